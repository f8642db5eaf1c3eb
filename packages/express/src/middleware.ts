import { fail, type Membership, type Ring } from '@ringroute/ring-core';
import {
  compileKey,
  createRouter,
  isUnreachable,
  logMembership,
  type KeyExtractor,
  type KeySource,
  type RequestRoute,
  type RingRouter,
  type RouterEvents,
  type RouterOptions,
  stripRouteParams,
} from '@ringroute/ring-core/http';
import { routeUpgrade } from '@ringroute/ring-core/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { monitoringHandler } from './monitor/index.js';
import { Forwarder, resolveProxyTimeouts, type ProxyTimeouts } from './proxy/forwarder.js';
import { send } from './send.js';
import type { RingRouteLogger } from './types.js';

export interface RingRouteOptions extends RouterOptions<Request> {
  /** Where to log (pino, console, ...). Default: silent. */
  logger?: RingRouteLogger;
  /** Proxy mode: ms to connect to an owner (default 2000) and to wait for its headers or next body chunk (default 30000). */
  proxyTimeouts?: ProxyTimeouts;
}

/** What `ringRoute(options)` returns: the middleware, plus the cluster it routes on. */
export interface RingRouteMiddleware extends RequestHandler {
  /** The current ring, or undefined before the membership has its first one. */
  readonly ring: Ring | undefined;
  readonly membership: Membership;
  /** The framework-free router: decision counters, stats(), metrics(). */
  readonly router: RingRouter<Request>;
  /** Resolves once the membership has its first ring (until then requests get 503 and `/ready` says 503). */
  ready(): Promise<void>;
  /** The same routing with another key source, for one route or router: `app.get('/docs/:id', rr.withKey('params:id'), h)`. */
  withKey(key: KeySource<Request>): RequestHandler;
  /** The monitoring routes (`<prefix>/route`, `/api/routes/stats`, `/health`, `/ready`, `/metrics`, admin). Mount it before the middleware. */
  monitor(): RequestHandler;
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

const SILENT: RingRouteLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * `app.use(ringRoute(options))`: every keyed request is served here when this node owns the key, otherwise
 * redirected, proxied or refused as the router answers.
 */
export function ringRoute(options: RingRouteOptions): RingRouteMiddleware {
  const router = createRouter<Request>(options);
  const logger = checkLogger(options.logger);
  const timeouts = resolveProxyTimeouts(options.proxyTimeouts);
  const forwarder = router.options.misroute === 'proxy' ? new Forwarder(timeouts) : undefined;

  // The membership starts in the background; a failure is logged here and rejects ready().
  const started = router.start();
  started.catch((error: unknown) => logger.error({ err: error }, 'ringroute: membership failed to start'));
  const stopLogging = logMembership(router.membership, logger);

  const routeWith = (key: KeyExtractor<Request>): RequestHandler =>
    function ringRouteMiddleware(req: Request, res: Response, next: NextFunction) {
      const { route, answer } = router.route(req, key);
      if (route !== undefined) req.ringRoute = route;
      if (answer !== undefined) {
        if (answer.status >= 500) logger.warn({ ringRoute: answer.body }, 'ringroute: cannot route request');
        else logger.debug({ ringRoute: answer.body }, 'ringroute: answered by the router');
        return send(res, answer);
      }
      if (route!.decision.action === 'local') {
        // Express 5 parses req.query from req.url on every read: drop the redirect's hop parameters there too.
        if (req.url.includes('rr_hops=')) req.url = stripRouteParams(req.url);
        return next();
      }
      proxy(req, res, route!).catch(next);
    };

  async function proxy(req: Request, res: Response, route: RequestRoute): Promise<void> {
    const plan = router.proxyPlan(req, route);
    const client = { remoteAddress: req.socket.remoteAddress, protocol: req.protocol };
    const tried: string[] = [];
    let error: Error | undefined;
    for (const [attempt, target] of plan.targets.entries()) {
      tried.push(target.id);
      const upstream = new URL(router.upstreamUrl(target, plan));
      const result = await forwarder!.forward(
        req,
        res,
        { origin: upstream.origin, path: upstream.pathname + upstream.search },
        router.proxyHeaders(req, route, plan, attempt, client),
      );
      if (result.sent) return;
      error = result.error;
      if (!isUnreachable(error)) break;
      logger.warn({ err: error, node: target.id }, 'ringroute: owner unreachable');
    }
    logger.error({ err: error, tried }, 'ringroute: proxying failed');
    send(res, router.proxyFailed(req, route, error!, tried));
  }

  let closing: Promise<void> | undefined;
  const middleware = Object.assign(routeWith(router.options.key), {
    router,
    membership: router.membership,
    ready: () => started,
    withKey: (key: KeySource<Request>) => routeWith(compileKey<Request>(key, 'withKey(key)')),
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer, next: () => void) => {
      routeUpgrade(router, req, socket, head, { timeouts, logger })
        .then((outcome) => outcome === 'local' && next())
        // `next` is the app's code (e.g. ws's handleUpgrade): a throw there must not become an unhandled rejection.
        .catch((error: unknown) => {
          logger.error({ err: error }, 'ringroute: the upgrade handler threw');
          socket.destroy();
        });
    },
    monitor: () => monitoringHandler(router.monitoringRoutes, router.options.prefix),
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

function checkLogger(logger: unknown): RingRouteLogger {
  if (logger === undefined) return SILENT;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (logger === null || typeof logger !== 'object' || methods.some((m) => typeof (logger as Record<string, unknown>)[m] !== 'function'))
    fail('logger', 'must have debug(), info(), warn() and error() methods (pino and console do)');
  return logger as RingRouteLogger;
}
