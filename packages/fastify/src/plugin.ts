import { checkNumber, checkOneOf, RingRouteConfigError, type Membership, type Ring } from '@ringroute/ring-core';
import type { AdoptedState, KeyedState, KeyedStateOptions, StatePort } from '@ringroute/ring-core/owned';
import {
  createMonitoring,
  createRouter,
  logAnswer,
  logMembership,
  routerStats,
  type KeyExtractor,
  type KeySource,
  type RequestRoute,
  type RingRouter,
  type RouterOptions,
  type RouterStats,
} from '@ringroute/ring-core/http';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { Forwarder } from '@ringroute/ring-core/node';
import fp from 'fastify-plugin';
import { answerUpgrade, isUpgrade, proxy, proxyUpgrade, send } from './proxy.js';
import { maxParamLength, RouteKeys } from './routes.js';
import { handoffRoutes } from './state.js';

export interface RingRouteOptions extends RouterOptions<FastifyRequest> {
  /** 'all' (default): every route is routed unless its config says `ringRoute: false`; 'opt-in': only routes whose config has `ringRoute`. */
  scope?: 'all' | 'opt-in';
  /**
   * How long `app.ready()` / `app.listen()` wait for the first ring (ms). Past it the app starts anyway (a warning is
   * logged) and routed requests and `<prefix>/ready` answer 503 until the ring arrives (e.g. while the store is away).
   * 0 = do not wait. Default 5000.
   */
  readyTimeout?: number;
}

/** Per-route control through the route `config`: `false` opts out; an object opts in, optionally with its own key. */
export type RingRouteRouteConfig = false | { key?: KeySource<FastifyRequest> };

/** `fastify.ringRoute` */
export interface RingRouteDecoration {
  /** The current ring, or undefined before the membership has its first one. */
  readonly ring: Ring | undefined;
  readonly membership: Membership;
  /** Resolves once the node has joined and has a ring (until then requests get 503). */
  ready(): Promise<void>;
  /** Members with their share, the counters, passive health (the payload of `<prefix>/api/routes/stats`). */
  stats(): RouterStats;
  /** The framework-free router (events: `router.on('decision', ...)`). */
  readonly router: RingRouter<FastifyRequest>;
  /**
   * Per-key state kept on the key's owner that moves with the key (join, leave, drain, rolling restart):
   * `const carts = app.ringRoute.state<Cart>('carts')`, then `await carts.get(id)` / `set` / `update` / `delete`.
   */
  state<T>(name: string, options?: KeyedStateOptions<T>): KeyedState<T>;
  /** Your own per-key store (export/import/delete/keys) under the same custody: `await buckets.use(key, () => …)`. */
  adopt(name: string, port: StatePort): AdoptedState;
}

declare module 'fastify' {
  interface FastifyInstance {
    ringRoute: RingRouteDecoration;
  }
  interface FastifyRequest {
    /** The key, its owner, the ring epoch and the decision; null on routes RingRoute does not handle. */
    ringRoute: RequestRoute | null;
  }
  interface FastifyContextConfig {
    ringRoute?: RingRouteRouteConfig;
  }
}

const ADAPTER_OPTIONS = ['scope', 'readyTimeout'] as const;

const collision = (method: string, url: string) =>
  new RingRouteConfigError(
    'prefix',
    `${method} ${url} is both an app route and a RingRoute monitoring route: set \`prefix\` (e.g. '/ringroute') to move RingRoute's routes`,
  );

const plugin: FastifyPluginCallback<RingRouteOptions> = (fastify, options, done) => {
  if (fastify.hasDecorator('ringRoute') || fastify.hasRequestDecorator('ringRoute'))
    return done(new RingRouteConfigError('ringRoute', 'the plugin is already registered in this Fastify instance'));
  let router: RingRouter<FastifyRequest>;
  let keys: RouteKeys;
  let readyTimeout: number;
  try {
    router = createRouter<FastifyRequest>(options, ADAPTER_OPTIONS);
    const scope = options.scope === undefined ? 'all' : checkOneOf('scope', options.scope, ['all', 'opt-in'] as const);
    readyTimeout =
      options.readyTimeout === undefined
        ? 5000
        : checkNumber('readyTimeout', options.readyTimeout, { min: 0, max: 3_600_000, integer: true });
    keys = new RouteKeys(router.options.key, scope, options.maxKeyLength, maxParamLength(fastify));
  } catch (error) {
    return done(error as Error);
  }
  const started = router.start();
  // The app keeps running without a ring: routed requests and <prefix>/ready answer 503 until the membership has one.
  started.catch((error: unknown) => fastify.log.error({ err: error }, 'ringroute: membership failed to start'));

  fastify.decorate('ringRoute', {
    get ring() {
      return router.ring;
    },
    membership: router.membership,
    ready: () => started,
    stats: () => routerStats(router as RingRouter<never>),
    router,
    state: <T>(name: string, options?: KeyedStateOptions<T>) => router.owned(fastify.log).state<T>(name, options),
    adopt: (name: string, port: StatePort) => router.owned(fastify.log).adopt(name, port),
  } satisfies RingRouteDecoration);
  fastify.decorateRequest('ringRoute', null);

  // Monitoring routes never shadow the app's: a route on both sides is a RingRouteConfigError naming `prefix`.
  const { routes } = createMonitoring(router as RingRouter<never>);
  const monitored = new Set(routes.map((r) => `${r.method} ${r.path}`));
  // onRoute runs synchronously inside route(): this flag tells our own routes (and their HEAD twins) apart.
  let registeringOwn = false;
  for (const route of routes)
    if (fastify.hasRoute({ method: route.method, url: route.path })) return done(collision(route.method, route.path));
  // Routes declared from now on are checked as they are declared (a bad per-route key fails at start).
  fastify.addHook('onRoute', (route) => {
    if (!registeringOwn)
      for (const method of [route.method].flat()) if (monitored.has(`${method} ${route.url}`)) throw collision(method, route.url);
    keys.declare(route.config, `${String(route.method)} ${route.url}`);
  });

  // A hook of the plugin's context: Fastify gives it to every route of this context and its children when the app
  // is ready, whether they were declared before the plugin loaded (`app.register(ringRoute)` without await) or after.
  const forwarder = router.options.misroute === 'proxy' ? new Forwarder(router.options.proxyTimeouts) : undefined;
  fastify.addHook('onRequest', routingHook(router, keys, forwarder));

  const own = (route: RouteOptions) => {
    registeringOwn = true;
    fastify.route(route);
    registeringOwn = false;
  };
  for (const monitoring of routes) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) =>
      send(reply, await monitoring.handle({ query: request.query, params: request.params, body: request.body, headers: request.headers }));
    own({ method: monitoring.method, url: monitoring.path, config: { ringRoute: false }, handler } as RouteOptions);
  }
  handoffRoutes(router, own);

  // app.ready() and app.listen() wait for the first ring (up to readyTimeout), so the first requests are routed, not 503.
  fastify.addHook('onReady', async () => {
    if (readyTimeout === 0 || (await settled(started, readyTimeout))) return;
    fastify.log.warn(
      { readyTimeout },
      `ringroute: no ring after ${readyTimeout} ms; starting anyway: routed requests and ${router.options.prefix}/ready answer 503 until the membership has its first ring`,
    );
  });

  const stopLogging = logMembership(router.membership, fastify.log);
  fastify.addHook('onClose', async () => {
    stopLogging();
    await Promise.all([forwarder?.close(), router.close()]);
  });

  done();
};

/** true once `started` settled (a failure is logged where it is caught), false after `timeout` ms. */
async function settled(started: Promise<void>, timeout: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeout, false)));
  try {
    return await Promise.race([
      started.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function routingHook(router: RingRouter<FastifyRequest>, keys: RouteKeys, forwarder: Forwarder | undefined): onRequestHookHandler {
  return function ringRouteOnRequest(request, reply, next) {
    let key: KeyExtractor<FastifyRequest> | undefined;
    try {
      key = keys.of(request);
    } catch (error) {
      return next(error as Error); // a per-route config first seen here (its route was declared before the plugin loaded)
    }
    if (key === undefined) return next();
    const result = router.handle(request, key);
    if (result.route !== undefined) request.ringRoute = result.route;
    if (result.kind === 'serve') return next();
    const upgrade = isUpgrade(request);
    if (result.kind === 'proxy')
      return upgrade ? proxyUpgrade(router, request, reply, result.plan) : void proxy(router, forwarder!, request, reply, result.plan);
    logAnswer(request.log, result.answer);
    if (upgrade) answerUpgrade(request, reply, result.answer);
    else send(reply, result.answer);
  };
}

/** `app.register(ringRoute, options)`: routes every keyed request to its owner node. */
export const ringRoute = fp(plugin, { fastify: '5.x', name: '@ringroute/fastify' });
