import replyFrom from '@fastify/reply-from';
import { endToEnd, type AttemptResult, type HttpAnswer, type ProxyPlan, type RingRouter } from '@ringroute/ring-core/http';
import { forwardUpgrade } from '@ringroute/ring-core/node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RingRouteOptions } from './plugin.js';

export type ReplyFrom = FastifyReply['from'];

export const send = (reply: FastifyReply, answer: HttpAnswer) => reply.code(answer.status).headers(answer.headers).send(answer.body);

/**
 * RingRoute's own reply-from instance, whatever the app registered: an app's instance may have a `base` that
 * pins every request to one origin. It is registered in an encapsulated context whose `from` decorator is
 * captured rather than added, so it never collides with the app's `reply.from`.
 */
export function ownReplyFrom(fastify: FastifyInstance, options: RingRouteOptions['replyFrom']): () => ReplyFrom {
  let from: ReplyFrom | undefined;
  fastify.register(async function ringRouteReplyFrom(child) {
    child.decorateReply = ((name: string, value: unknown) => {
      if (name === 'from') from = value as ReplyFrom;
      return child;
    }) as FastifyInstance['decorateReply'];
    await child.register(replyFrom, { ...options, disableRequestLogging: true });
  });
  return () => from!;
}

/** Forwards through reply-from, streaming the raw body; ring-core's loop picks the candidates. */
export async function proxy(router: RingRouter<FastifyRequest>, request: FastifyRequest, reply: FastifyReply, plan: ProxyPlan, from: ReplyFrom): Promise<void> {
  // The body is not parsed yet (onRequest): hand reply-from the raw stream so it is piped, never buffered.
  const { headers } = request;
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) request.body = request.raw;
  const attempt = (url: string, added: Record<string, string>) =>
    new Promise<AttemptResult>((resolve) => {
      try {
        from.call(reply, url, {
          rewriteRequestHeaders: (_request, copy) => Object.assign(copy, added),
          // The owner's response headers are in: the attempt succeeded. Its hop-by-hop headers stay with it.
          rewriteHeaders: (upstream) => {
            resolve({ sent: true });
            return endToEnd(upstream);
          },
          onError: (_reply, { error }) => resolve({ sent: false, error }),
        });
      } catch (error) {
        // reply-from throws synchronously for inputs it refuses (e.g. a path with '..'): Fastify's error handler answers.
        reply.send(error);
        resolve({ sent: true });
      }
    });
  const failed = await router.proxyWithFallback(plan, attempt, request.log);
  if (failed === undefined) return;
  request.log.error({ err: failed.error, tried: failed.tried }, 'ringroute: proxying failed');
  // A body the upstream never took is left unread: the connection cannot be reused, so close it.
  if (!request.raw.complete) reply.header('connection', 'close');
  send(reply, failed.answer);
}

/**
 * An upgrade routed through Fastify (@fastify/websocket dispatches them so that hooks run) whose key another
 * node owns: the raw socket is taken over and the handshake proxied to the owner.
 */
export function proxyUpgrade(router: RingRouter<FastifyRequest>, request: FastifyRequest, reply: FastifyReply, plan: ProxyPlan): void {
  reply.hijack();
  const { raw } = request;
  void forwardUpgrade(router, raw, plan, raw.socket, upgradeHead(raw), { logger: request.log });
}

/** Bytes read past the handshake; @fastify/websocket keeps them on the raw request under a private symbol. */
function upgradeHead(raw: object): Buffer {
  const symbol = Object.getOwnPropertySymbols(raw).find((s) => s.description === 'ws-head');
  const head = symbol === undefined ? undefined : (raw as Record<symbol, unknown>)[symbol];
  return Buffer.isBuffer(head) ? head : Buffer.alloc(0);
}
