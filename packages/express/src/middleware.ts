import { checkLogger, type Membership, type Ring, type RingRouteLogger } from '@ringroute/ring-core';
import type { AdoptedState, KeyedState, KeyedStateOptions, StatePort } from '@ringroute/ring-core/owned';
import {
  compileKey,
  createMonitoring,
  createRouter,
  logAnswer,
  logMembership,
  type KeyExtractor,
  type KeySource,
  type RingRouter,
  type RouterEvents,
  type RouterOptions,
  stripRouteParams,
} from '@ringroute/ring-core/http';
import { Forwarder, routeUpgrade, sendAnswer } from '@ringroute/ring-core/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { monitoringHandler } from './monitor/index.js';

export interface RingRouteOptions extends RouterOptions<Request> {
  /** Where to log (pino, console, ...). Default: silent. */
  logger?: RingRouteLogger;
}

/** What `ringRoute(options)` returns: the middleware, plus the cluster it routes on. */
export interface RingRouteMiddleware extends RequestHandler {
  /** The current ring, or undefined before the membership has its first one. */
  readonly ring: Ring | undefined;
  readonly membership: Membership;
  /** The framework-free router: counters, events, passive health. */
  readonly router: RingRouter<Request>;
  /** Resolves once the membership has its first ring (until then requests get 503 and `/ready` says 503). */
  ready(): Promise<void>;
  /** The same routing with another key source, for one route or router: `app.get('/docs/:id', rr.withKey('params:id'), h)`. */
  withKey(key: KeySource<Request>): RequestHandler;
  /**
   * The monitoring routes (`<prefix>/route`, `/api/routes/stats`, `/health`, `/ready`, `/metrics`, admin; never
   * shadows an app route) and the transfer endpoint of owned state (`<prefix>/api/routes/handoff`): mount it at the
   * root, before body parsers.
   */
  monitor(): RequestHandler;
  /**
   * Per-key state kept on the key's owner that moves with the key (join, leave, drain, rolling restart):
   * `const carts = rr.state<Cart>('carts')`, then `await carts.get(id)` / `set` / `update` / `delete` in a handler.
   */
  state<T>(name: string, options?: KeyedStateOptions<T>): KeyedState<T>;
  /** Your own per-key store (export/import/delete/keys) under the same custody: `await buckets.use(key, () => …)`. */
  adopt(name: string, port: StatePort): AdoptedState;
  /**
   * Routes WebSocket (and other) upgrades, which never reach Express: `server.on('upgrade', (req, socket, head) =>
   * rr.handleUpgrade(req, socket, head, () => wss.handleUpgrade(...)))`. Calls `next` when this node owns the key;
   * otherwise proxies the handshake to the owner or answers the socket (redirect, 421 with the owner, 4xx, 503)
   * as `misroute` says. A key function gets the raw IncomingMessage here (no `req.query` or `req.params`).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, next: () => void): void;
  /** Typed events: 'decision' for every routed request, 'proxy-error' when proxying failed. */
  on<E extends keyof RouterEvents>(event: E, listener: RouterEvents[E]): this;
  off<E extends keyof RouterEvents>(event: E, listener: RouterEvents[E]): this;
  /** Leaves the cluster (stops the membership; see `leaveOnClose`) and closes proxy connections. Idempotent. */
  close(): Promise<void>;
}

/** `app.use(ringRoute(options))`: every keyed request is served here, or redirected, proxied or refused as ring-core answers. */
export function ringRoute(options: RingRouteOptions): RingRouteMiddleware {
  const router = createRouter<Request>(options, ['logger']);
  const logger = checkLogger(options.logger);
  const forwarder = router.options.misroute === 'proxy' ? new Forwarder(router.options.proxyTimeouts) : undefined;
  const started = router.start();
  started.catch((error: unknown) => logger.error({ err: error }, 'ringroute: membership failed to start'));
  const stopLogging = logMembership(router.membership, logger);

  const routeWith = (key: KeyExtractor<Request>): RequestHandler =>
    function ringRouteMiddleware(req: Request, res: Response, next: NextFunction) {
      // Transfers of owned state between nodes are never routed (when this is mounted at the root).
      if (router.handoffEndpoint.matches(req.method, req.path)) return void router.handoffEndpoint.serve(req, res);
      const result = router.handle(req, key);
      if (result.route !== undefined) req.ringRoute = result.route;
      if (result.kind === 'serve') {
        // Express 5 parses req.query from req.url on every read: drop the redirect's hop parameters there too.
        if (req.url.includes('rr_hops=')) req.url = stripRouteParams(req.url);
        return next();
      }
      if (result.kind === 'proxy') return void forwarder!.proxy(router, result.plan, req, res, logger).catch(next);
      logAnswer(logger, result.answer);
      sendAnswer(res, result.answer);
    };

  let closing: Promise<void> | undefined;
  const middleware = Object.assign(routeWith(router.options.key), {
    router,
    membership: router.membership,
    ready: () => started,
    withKey: (key: KeySource<Request>) => routeWith(compileKey<Request>(key, 'withKey(key)')),
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer, next: () => void) => {
      routeUpgrade(router, req, socket, head, { logger })
        .then((outcome) => outcome === 'local' && next())
        // `next` is the app's code (e.g. ws's handleUpgrade): a throw there must not become an unhandled rejection.
        .catch((error: unknown) => {
          logger.error({ err: error }, 'ringroute: the upgrade handler threw');
          socket.destroy();
        });
    },
    monitor: () => monitoringHandler(createMonitoring(router as RingRouter<never>), router.handoffEndpoint, logger),
    state: <T>(name: string, options?: KeyedStateOptions<T>) => router.owned(logger).state<T>(name, options),
    adopt: (name: string, port: StatePort) => router.owned(logger).adopt(name, port),
    on<E extends keyof RouterEvents>(event: E, listener: RouterEvents[E]) {
      router.on(event, listener);
      return middleware;
    },
    off<E extends keyof RouterEvents>(event: E, listener: RouterEvents[E]) {
      router.off(event, listener);
      return middleware;
    },
    close: () => {
      stopLogging();
      return (closing ??= Promise.all([forwarder?.close(), router.close()]).then(() => undefined));
    },
  });
  Object.defineProperty(middleware, 'ring', { get: () => router.ring, enumerable: true });
  return middleware as RingRouteMiddleware;
}
