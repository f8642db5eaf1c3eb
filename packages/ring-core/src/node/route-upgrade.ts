import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { isUnreachable } from '../http/proxy.js';
import type { KeyExtractor } from '../http/request.js';
import type { RequestRoute, RingRouter } from '../http/router.js';
import { proxyUpgrade, writeUpgradeAnswer, type UpgradeTimeouts } from './upgrade.js';

/** Told about each owner that could not be reached, and about the final failure. */
export type UpgradeFailureLog = (event: { error: Error; node: string; final: boolean; tried: readonly string[] }) => void;

/**
 * Routes one upgrade request by the router's key rules. Resolves 'local' when this node serves it (the caller
 * hands the socket to its WebSocket server); otherwise the socket was answered (redirect, 421 with the owner,
 * 4xx, 503) or proxied to the owner, and resolves 'handled'.
 */
export async function routeUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: { key?: KeyExtractor<Req>; timeouts?: UpgradeTimeouts; onFailure?: UpgradeFailureLog } = {},
): Promise<'local' | 'handled'> {
  const request = req as unknown as Req;
  const { route, answer } = router.route(request, options.key);
  if (answer !== undefined) {
    writeUpgradeAnswer(socket, answer);
    return 'handled';
  }
  if (route.decision.action === 'local') return 'local';
  await forwardUpgrade(router, req, route, socket, head, options);
  return 'handled';
}

/**
 * Proxies an upgrade the router decided to proxy: the owner first, then (handshakes carry no body, so a retry
 * is safe) the next candidates while the owner is unreachable; when none answers, the router's proxy-failed
 * answer (503 + Retry-After, or `onProxyError`'s) is written onto the socket.
 */
export async function forwardUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  route: RequestRoute,
  socket: Duplex,
  head: Buffer,
  options: { timeouts?: UpgradeTimeouts; onFailure?: UpgradeFailureLog } = {},
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
    const last = attempt + 1 === plan.targets.length || !isUnreachable(error);
    options.onFailure?.({ error, node: target.id, final: last, tried });
    if (last) break;
  }
  writeUpgradeAnswer(socket, router.proxyFailed(request, route, error!, tried));
}
