import { errorAnswer, type HttpAnswer, type ProxyPlan, type RingRouter } from '@ringroute/ring-core/http';
import { forwardUpgrade, sendAnswer, writeUpgradeAnswer, type Forwarder } from '@ringroute/ring-core/node';
import type { Duplex } from 'node:stream';
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
  void forwardUpgrade(router, raw, plan, upgradeSocket(raw), upgradeHead(raw), { logger: request.log });
}

/**
 * RingRoute's own answer to an upgrade (a redirect, 421, 4xx, 503), written on the socket, which it then closes:
 * @fastify/websocket closes the sockets of answered upgrades in a hook that may come after RingRoute's.
 */
export function answerUpgrade(request: FastifyRequest, reply: FastifyReply, answer: HttpAnswer): void {
  reply.hijack();
  writeUpgradeAnswer(upgradeSocket(request.raw), answer);
}

/** A property @fastify/websocket keeps on the raw request under a private symbol ('ws-socket', 'ws-head'). */
function wsProperty(raw: object, name: string): unknown {
  const symbol = Object.getOwnPropertySymbols(raw).find((s) => s.description === name);
  return symbol === undefined ? undefined : (raw as Record<symbol, unknown>)[symbol];
}

/**
 * An upgrade @fastify/websocket dispatched through Fastify's routing. Its own onRequest hook sets `request.ws`, but it
 * may run after RingRoute's (when the plugin was registered first): the raw request's socket marks it in any order.
 */
export const isUpgrade = (request: FastifyRequest): boolean =>
  (request as { ws?: unknown }).ws === true || wsProperty(request.raw, 'ws-socket') !== undefined;

const upgradeSocket = (raw: FastifyRequest['raw']): Duplex => (wsProperty(raw, 'ws-socket') as Duplex | undefined) ?? raw.socket;

/** Bytes read past the handshake. */
function upgradeHead(raw: object): Buffer {
  const head = wsProperty(raw, 'ws-head');
  return Buffer.isBuffer(head) ? head : Buffer.alloc(0);
}
