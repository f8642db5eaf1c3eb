import { errorAnswer, type HttpAnswer, type ProxyPlan, type RingRouter } from '@ringroute/ring-core/http';
import { forwardUpgrade, sendAnswer, type Forwarder } from '@ringroute/ring-core/node';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const send = (reply: FastifyReply, answer: HttpAnswer) => reply.code(answer.status).headers(answer.headers).send(answer.body);

/**
 * Forwards through ring-core's Forwarder (the Express middleware's too) on the raw request and response, with
 * ring-core's loop picking the candidates. The reply is hijacked, so Fastify's onSend hooks do not run for a proxied
 * response; onResponse hooks (metrics, request logs) still do, and headers the app's hooks set on the reply go out
 * under the owner's.
 */
export async function proxy(
  router: RingRouter<FastifyRequest>,
  forwarder: Forwarder,
  request: FastifyRequest,
  reply: FastifyReply,
  plan: ProxyPlan,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  const set = reply.getHeaders();
  for (const name in set) res.setHeader(name, set[name]!);
  try {
    await forwarder.proxy(router, plan, request.raw, res, request.log);
  } catch (error) {
    // e.g. an onProxyError hook that throws: a 500 while nothing went out, never an unhandled rejection.
    request.log.error({ err: error }, 'ringroute: proxying failed');
    if (res.headersSent) res.destroy();
    else sendAnswer(res, errorAnswer(500, 'Internal Server Error', 'proxy-failed', 'proxying failed'));
  }
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
