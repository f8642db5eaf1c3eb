import { checkOneOf, RingRouteConfigError, type Membership, type Ring } from '@ringroute/ring-core';
import type { AdoptedState, KeyedState, KeyedStateOptions, StatePort } from '@ringroute/ring-core/owned';
import {
  compileKey,
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
import { proxy, proxyUpgrade, send } from './proxy.js';
import { handoffRoutes } from './state.js';

export interface RingRouteOptions extends RouterOptions<FastifyRequest> {
  /** 'all' (default): every route is routed unless its config says `ringRoute: false`; 'opt-in': only routes whose config has `ringRoute`. */
  scope?: 'all' | 'opt-in';
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

const ADAPTER_OPTIONS = ['scope'] as const;

const collision = (method: string, url: string) =>
  new RingRouteConfigError(
    'prefix',
    `${method} ${url} is both an app route and a RingRoute monitoring route: set \`prefix\` (e.g. '/ringroute') to move RingRoute's routes`,
  );

const plugin: FastifyPluginCallback<RingRouteOptions> = (fastify, options, done) => {
  if (fastify.hasDecorator('ringRoute') || fastify.hasRequestDecorator('ringRoute'))
    return done(new RingRouteConfigError('ringRoute', 'the plugin is already registered in this Fastify instance'));
  let router: RingRouter<FastifyRequest>;
  let scope: 'all' | 'opt-in';
  try {
    router = createRouter<FastifyRequest>(options, ADAPTER_OPTIONS);
    scope = options.scope === undefined ? 'all' : checkOneOf('scope', options.scope, ['all', 'opt-in'] as const);
  } catch (error) {
    return done(error as Error);
  }
  const started = router.start();
  // The membership starts in the background: requests get 503 (and <prefix>/ready says 503) until its first ring.
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

  const forwarder = router.options.misroute === 'proxy' ? new Forwarder(router.options.proxyTimeouts) : undefined;
  // Routes registered after the plugin get the routing hook; opted-out routes pay nothing per request.
  const ownHooks = new WeakSet<object>();
  fastify.addHook('onRoute', (route) => {
    if (!registeringOwn)
      for (const method of [route.method].flat()) if (monitored.has(`${method} ${route.url}`)) throw collision(method, route.url);
    const config = route.config?.ringRoute;
    if (config === false || (scope === 'opt-in' && config === undefined)) return;
    const key =
      config?.key === undefined ? router.options.key : compileKey<FastifyRequest>(config.key, `config.ringRoute.key (${route.url})`);
    const hooks = route.onRequest === undefined ? [] : [route.onRequest].flat();
    // Fastify re-announces a GET route as HEAD with the same hooks: add ours once.
    if (hooks.some((h) => ownHooks.has(h))) return;
    const hook = routingHook(router, key, forwarder);
    ownHooks.add(hook);
    route.onRequest = [hook, ...hooks];
  });

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

  const stopLogging = logMembership(router.membership, fastify.log);
  fastify.addHook('onClose', async () => {
    stopLogging();
    await Promise.all([forwarder?.close(), router.close()]);
  });

  done();
};

function routingHook(
  router: RingRouter<FastifyRequest>,
  key: KeyExtractor<FastifyRequest>,
  forwarder: Forwarder | undefined,
): onRequestHookHandler {
  return function ringRouteOnRequest(request, reply, next) {
    const result = router.handle(request, key);
    if (result.route !== undefined) request.ringRoute = result.route;
    if (result.kind === 'serve') return next();
    // @fastify/websocket marks the requests it dispatched from the server's 'upgrade' event (`request.ws`).
    if (result.kind === 'proxy' && (request as { ws?: unknown }).ws === true) return proxyUpgrade(router, request, reply, result.plan);
    if (result.kind === 'proxy') return void proxy(router, forwarder!, request, reply, result.plan);
    logAnswer(request.log, result.answer);
    send(reply, result.answer);
  };
}

/** `app.register(ringRoute, options)`: routes every keyed request to its owner node. */
export const ringRoute = fp(plugin, { fastify: '5.x', name: '@ringroute/fastify' });
