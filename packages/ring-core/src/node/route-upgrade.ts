import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KeyExtractor } from '../http/request.js';
import type { RingRouter } from '../http/router.js';
import type { ProxyPlan, RouteAnswer } from '../http/types.js';
import type { ForwardLogger } from './forwarder.js';
import { proxyUpgrade, writeUpgradeAnswer } from './upgrade.js';

export interface UpgradeOptions {
  logger?: ForwardLogger;
}

/**
 * Routes one upgrade request through the same `handle(view)` as HTTP. Resolves 'local' when this node serves it
 * (the caller hands the socket to its WebSocket server); otherwise the socket was answered (redirect, 421 with the
 * owner, 4xx, 503) or proxied to the owner, and resolves 'handled'. Never rejects: on an error the socket is closed.
 */
export async function routeUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: UpgradeOptions & { key?: KeyExtractor<Req> } = {},
): Promise<'local' | 'handled'> {
  let result: RouteAnswer;
  try {
    result = router.handle(req as unknown as Req, options.key);
  } catch (error) {
    // e.g. a key function that throws: an HTTP request would get the framework's 500; a raw socket is closed.
    return dropSocket(socket, error, options.logger);
  }
  if (result.kind === 'serve') return 'local';
  if (result.kind === 'answer') writeUpgradeAnswer(socket, result.answer);
  else await forwardUpgrade(router, req, result.plan, socket, head, options);
  return 'handled';
}

function dropSocket(socket: Duplex, error: unknown, logger: ForwardLogger | undefined): 'handled' {
  logger?.error({ err: error }, 'ringroute: upgrade failed');
  socket.destroy();
  return 'handled';
}

/**
 * Proxies an upgrade the router planned to proxy, through ring-core's one proxy loop (handshakes carry no body,
 * so the next candidates are tried while owners are unreachable); when none answers, the router's proxy-failed
 * answer (503 + Retry-After, or `onProxyError`'s) is written onto the socket. Never rejects.
 */
export async function forwardUpgrade<Req extends object>(
  router: RingRouter<Req>,
  req: IncomingMessage,
  plan: ProxyPlan,
  socket: Duplex,
  head: Buffer,
  options: UpgradeOptions = {},
): Promise<void> {
  const { logger } = options;
  try {
    const failed = await router.proxyWithFallback(
      plan,
      (url, headers) => proxyUpgrade(req, socket, head, url, headers, router.options.proxyTimeouts),
      logger,
    );
    if (failed === undefined) return;
    logger?.error({ err: failed.error, tried: failed.tried }, 'ringroute: proxying the upgrade failed');
    writeUpgradeAnswer(socket, failed.answer);
  } catch (error) {
    // e.g. an onProxyError hook that throws: never an unhandled rejection, the socket is closed.
    dropSocket(socket, error, logger);
  }
}
