import replyFrom, { type FastifyReplyFromOptions } from '@fastify/reply-from';
import { checkOneOf, RingRouteConfigError, type Membership, type Ring } from '@ringroute/ring-core';
import {
  compileKey,
  createRouter,
  isUnreachable,
  logMembership,
  type HttpAnswer,
  type KeyExtractor,
  type KeySource,
  type ClientInfo,
  type ProxyPlan,
  type RequestRoute,
  type RingRouter,
  type RouterOptions,
} from '@ringroute/ring-core/http';
import { forwardUpgrade } from '@ringroute/ring-core/node';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';

export interface RingRouteOptions extends RouterOptions<FastifyRequest> {
  /** 'all' (default): every route is routed unless its config says `ringRoute: false`; 'opt-in': only routes whose config has `ringRoute`. */
  scope?: 'all' | 'opt-in';
  /** Options for the @fastify/reply-from instance the plugin registers in proxy mode (e.g. `undici` pool settings). */
  replyFrom?: Omit<FastifyReplyFromOptions, 'base'>;
}

/** Per-route control through the route `config`: `false` opts out; an object opts in, optionally with its own key. */
export type RingRouteRouteConfig = false | { key?: KeySource<FastifyRequest> };

/** `fastify.ringRoute` */
export interface RingRouteDecoration {
  /** The current ring, or undefined before the membership has its first one. */
  readonly ring: Ring | undefined;
  readonly membership: Membership;
  /** Members with their share, and the decision counters (the payload of `<prefix>/api/routes/stats`). */
  stats(): ReturnType<RingRouter['stats']>;
  /** The framework-free router (events: `router.on('decision', ...)`). */
  readonly router: RingRouter<FastifyRequest>;
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

const send = (reply: FastifyReply, answer: HttpAnswer) => reply.code(answer.status).headers(answer.headers).send(answer.body);

type ReplyFrom = FastifyReply['from'];

/**
 * RingRoute's own reply-from instance, whatever the app registered: an app's instance may have a `base` that
 * pins every request to one origin. It is registered in an encapsulated context whose `from` decorator is
 * captured rather than added, so it never collides with the app's `reply.from`.
 */
function ownReplyFrom(fastify: FastifyInstance, options: RingRouteOptions['replyFrom']): () => ReplyFrom {
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

const plugin: FastifyPluginCallback<RingRouteOptions> = (fastify, options, done) => {
  if (fastify.hasDecorator('ringRoute') || fastify.hasRequestDecorator('ringRoute'))
    return done(new RingRouteConfigError('ringRoute', 'the plugin is already registered in this Fastify instance'));
  let router: RingRouter<FastifyRequest>;
  let scope: 'all' | 'opt-in';
  try {
    router = createRouter<FastifyRequest>(options);
    scope = options.scope === undefined ? 'all' : checkOneOf('scope', options.scope, ['all', 'opt-in'] as const);
  } catch (error) {
    return done(error as Error);
  }

  fastify.decorate('ringRoute', {
    get ring() {
      return router.ring;
    },
    membership: router.membership,
    stats: () => router.stats(),
    router,
  } satisfies RingRouteDecoration);
  fastify.decorateRequest('ringRoute', null);

  const from = router.options.misroute === 'proxy' ? ownReplyFrom(fastify, options.replyFrom) : undefined;
  // Routes registered after the plugin get the routing hook; opted-out routes pay nothing per request.
  const ownHooks = new WeakSet<object>();
  fastify.addHook('onRoute', (route) => {
    const config = route.config?.ringRoute;
    if (config === false || (scope === 'opt-in' && config === undefined)) return;
    const key = config?.key === undefined ? router.options.key : compileKey<FastifyRequest>(config.key, `config.ringRoute.key (${route.url})`);
    const hooks = route.onRequest === undefined ? [] : [route.onRequest].flat();
    // Fastify re-announces a GET route as HEAD with the same hooks: add ours once.
    if (hooks.some((h) => ownHooks.has(h))) return;
    const hook = routingHook(router, key, from);
    ownHooks.add(hook);
    route.onRequest = [hook, ...hooks];
  });

  for (const monitoring of router.monitoringRoutes)
    fastify.route({
      method: monitoring.method,
      url: monitoring.path,
      config: { ringRoute: false },
      handler: async (request, reply) => {
        const answer = await monitoring.handle({ query: request.query, params: request.params, body: request.body, headers: request.headers });
        return send(reply, answer);
      },
    } as RouteOptions);

  // The membership starts in the background: requests get 503 (and <prefix>/ready says 503) until its first ring.
  router.start().catch((error: unknown) => fastify.log.error({ err: error }, 'ringroute: membership failed to start'));
  const stopLogging = logMembership(router.membership, fastify.log);
  fastify.addHook('onClose', async () => {
    stopLogging();
    await router.close();
  });

  done();
};

function routingHook(router: RingRouter<FastifyRequest>, key: KeyExtractor<FastifyRequest>, from: (() => ReplyFrom) | undefined): onRequestHookHandler {
  return function ringRouteOnRequest(request, reply, next) {
    const { route, answer } = router.route(request, key);
    if (route !== undefined) request.ringRoute = route;
    if (answer !== undefined) {
      if (answer.status >= 500) request.log.warn({ ringRoute: answer.body }, 'ringroute: cannot route request');
      else request.log.debug({ ringRoute: answer.body }, 'ringroute: answered by the router');
      send(reply, answer);
      return;
    }
    if (route!.decision.action === 'local') return next();
    // @fastify/websocket marks the requests it dispatched from the server's 'upgrade' event (`request.ws`).
    if ((request as { ws?: unknown }).ws === true) return proxyUpgrade(router, request, reply, route!);
    proxy(router, request, reply, route!, from!());
  };
}

/** Forwards through @fastify/reply-from, streaming the raw body; idempotent bodiless requests retry on the next candidates. */
function proxy(router: RingRouter<FastifyRequest>, request: FastifyRequest, reply: FastifyReply, route: RequestRoute, from: ReplyFrom): void {
  const plan = router.proxyPlan(request, route);
  const client: ClientInfo = { remoteAddress: request.socket.remoteAddress, protocol: request.protocol };
  // The body is not parsed yet (onRequest): hand reply-from the raw stream so it is piped, never buffered.
  const { headers } = request;
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) request.body = request.raw;
  forward(router, request, reply, route, plan, client, from, 0);
}

function forward(
  router: RingRouter<FastifyRequest>,
  request: FastifyRequest,
  reply: FastifyReply,
  route: RequestRoute,
  plan: ProxyPlan,
  client: ClientInfo,
  from: ReplyFrom,
  attempt: number,
): void {
  const target = plan.targets[attempt]!;
  try {
    from.call(reply, router.upstreamUrl(target, plan), {
      // reply-from hands over its own copy of the request headers: ours are written into it.
      rewriteRequestHeaders: (_request, headers) => router.proxyHeaders(request, route, plan, attempt, client, headers),
      onError: (_reply, { error }) => {
        if (attempt + 1 < plan.targets.length && isUnreachable(error)) {
          request.log.warn({ err: error, node: target.id }, 'ringroute: owner unreachable, trying the next candidate');
          return forward(router, request, reply, route, plan, client, from, attempt + 1);
        }
        const tried = plan.targets.slice(0, attempt + 1).map((n) => n.id);
        request.log.error({ err: error, tried }, 'ringroute: proxying failed');
        // A body the upstream never took is left unread: the connection cannot be reused, so close it.
        if (!request.raw.complete) reply.header('connection', 'close');
        send(reply, router.proxyFailed(request, route, error, tried));
      },
    });
  } catch (error) {
    // reply-from throws synchronously for inputs it refuses (e.g. a path with '..'): Fastify's error handler answers.
    reply.send(error);
  }
}

/**
 * An upgrade routed through Fastify (@fastify/websocket dispatches them so that hooks run) whose key another
 * node owns: the raw socket is taken over and the handshake proxied to the owner.
 */
function proxyUpgrade(router: RingRouter<FastifyRequest>, request: FastifyRequest, reply: FastifyReply, route: RequestRoute): void {
  reply.hijack();
  const { raw } = request;
  void forwardUpgrade(router, raw, route, raw.socket, upgradeHead(raw), { logger: request.log });
}

/** Bytes read past the handshake; @fastify/websocket keeps them on the raw request under a private symbol. */
function upgradeHead(raw: object): Buffer {
  const symbol = Object.getOwnPropertySymbols(raw).find((s) => s.description === 'ws-head');
  const head = symbol === undefined ? undefined : (raw as Record<symbol, unknown>)[symbol];
  return Buffer.isBuffer(head) ? head : Buffer.alloc(0);
}

/** `app.register(ringRoute, options)`: routes every keyed request to its owner node. */
export const ringRoute = fp(plugin, { fastify: '5.x', name: '@ringroute/fastify' });
