import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { isUnreachable } from '../http/proxy.js';
import type { KeyExtractor } from '../http/request.js';
import type { RequestRoute, RingRouter, RouteOutcome } from '../http/router.js';
import { proxyUpgrade, writeUpgradeAnswer, type UpgradeTimeouts } from './upgrade.js';

/** Where proxy failures are logged, `(details, message)` like pino or `console`: unreachable owners at warn, the final failure at error. */
export interface UpgradeLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface UpgradeOptions {
  timeouts?: UpgradeTimeouts;
  logger?: UpgradeLogger;
}

/**
 * Routes one upgrade request by the router's key rules. Resolves 'local' when this node serves it (the caller
 * hands the socket to its WebSocket server); otherwise the socket was answered (redirect, 421 with the owner,
 * 4xx, 503) or proxied to the owner, and resolves 'handled'. Never rejects: on an error the socket is closed.
 */
export async function routeUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: UpgradeOptions & { key?: KeyExtractor<Req> } = {},
): Promise<'local' | 'handled'> {
  let outcome: RouteOutcome;
  try {
    outcome = router.route(req as unknown as Req, options.key);
  } catch (error) {
    // e.g. a key function that throws: an HTTP request would get the framework's 500; a raw socket is closed.
    return dropSocket(socket, error, options.logger);
  }
  const { route, answer } = outcome;
  if (answer !== undefined) {
    writeUpgradeAnswer(socket, answer);
    return 'handled';
  }
  if (route.decision.action === 'local') return 'local';
  await forwardUpgrade(router, req, route, socket, head, options);
  return 'handled';
}

function dropSocket(socket: Duplex, error: unknown, logger: UpgradeLogger | undefined): 'handled' {
  logger?.error({ err: error }, 'ringroute: upgrade failed');
  socket.destroy();
  return 'handled';
}

/**
 * Proxies an upgrade the router decided to proxy: the owner first, then (handshakes carry no body, so a retry
 * is safe) the next candidates while the owner is unreachable; when none answers, the router's proxy-failed
 * answer (503 + Retry-After, or `onProxyError`'s) is written onto the socket. Never rejects.
 */
export async function forwardUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  route: RequestRoute,
  socket: Duplex,
  head: Buffer,
  options: UpgradeOptions = {},
): Promise<void> {
  try {
    await forwardWithFallback(router, req, route, socket, head, options);
  } catch (error) {
    // e.g. an onProxyError hook that throws: never an unhandled rejection, the socket is closed.
    dropSocket(socket, error, options.logger);
  }
}

async function forwardWithFallback<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  route: RequestRoute,
  socket: Duplex,
  head: Buffer,
  options: UpgradeOptions,
): Promise<void> {
  const request = req as unknown as Req;
  const plan = router.proxyPlan(request, route);
  const client = { remoteAddress: req.socket.remoteAddress, protocol: (req.socket as TLSSocket).encrypted ? 'https' : 'http' };
  const tried: string[] = [];
  let error: Error | undefined;
  for (const [attempt, target] of plan.targets.entries()) {
    tried.push(target.id);
    const headers = router.proxyHeaders(request, route, plan, attempt, client);
    const result = await proxyUpgrade(req, socket, head, router.upstreamUrl(target, plan), headers, options.timeouts);
    if (result.sent) return;
    error = result.error;
    if (attempt + 1 === plan.targets.length || !isUnreachable(error)) break;
    options.logger?.warn({ err: error, node: target.id }, 'ringroute: owner unreachable, trying the next candidate');
  }
  options.logger?.error({ err: error, tried }, 'ringroute: proxying the upgrade failed');
  writeUpgradeAnswer(socket, router.proxyFailed(request, route, error!, tried));
}
