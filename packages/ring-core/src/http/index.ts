/**
 * `@ringroute/ring-core/http`: everything the Fastify plugin and the Express middleware share, in
 * framework-free terms (Node-only: uses node:crypto). An adapter only translates.
 *
 * ```ts
 * const router = createRouter<MyRequest>(options);   // validates every option (errors name it)
 * await router.start();                              // starts the membership unless it is ready
 *
 * // per request (a Fastify or Express request already has the RequestView shape)
 * const { route, answer } = router.route(req);       // or router.route(req, compileKey(routeKey, 'config.ringRoute.key'))
 * if (answer) return send(answer.status, answer.headers, answer.body);   // 307/308, 421, 508, 503, 400, 414
 * req.ringRoute = route;                             // { key, owner, epoch, decision, hops }
 * if (route.decision.action === 'local') return next();
 * // action 'proxy':
 * const plan = router.proxyPlan(req, route);         // { path, targets }: owner first, next candidates if retry is safe
 * for (let attempt = 0; attempt < plan.targets.length; attempt++) {
 *   const target = plan.targets[attempt];
 *   forward(router.upstreamUrl(target, plan), router.proxyHeaders(req, route, plan, attempt, { remoteAddress, protocol }));
 *   // on an error where isUnreachable(error) is true, try the next target; else / when none is left:
 *   send(router.proxyFailed(req, route, error, triedIds));   // onProxyError hook or 503 + Retry-After
 * }
 *
 * // monitoring + admin routes: register each one; call handle({ query, params, body, headers }) and send its answer
 * for (const r of router.monitoringRoutes) app.route(r.method, r.path, ...);
 * // <prefix>/route?key=, <prefix>/api/routes/stats, <prefix>/health, <prefix>/ready, <prefix>/metrics,
 * // and with adminToken: POST <prefix>/api/routes/nodes, DELETE <prefix>/api/routes/nodes/:id, POST <prefix>/api/routes/pins
 *
 * router.on('decision', (event) => log(event));      // typed events: 'decision', 'proxy-error'
 * await router.close();                              // leaves the cluster (stops the membership) when it should
 * ```
 *
 * Hops: a redirect's Location carries `rr_hops` / `rr_epoch` (clients do not resend custom headers); a proxied
 * request carries `x-ringroute-hops` / `x-ringroute-epoch`. A request that made `maxHops` hops gets 508, and
 * the receiving node checks ownership itself (never checksum equality).
 */
import { RingRouter } from './router.js';
import type { RouterOptions } from './options.js';
import type { RequestView } from './request.js';

/** Builds the router both adapters use; `nodes` becomes a StaticMembership the router owns. */
export function createRouter<Req extends object = RequestView>(options: RouterOptions<Req>): RingRouter<Req> {
  return new RingRouter<Req>(options);
}

export { RingRouter };
export type {
  DecisionCounters,
  DecisionEvent,
  ErrorReason,
  ProxyPlan,
  RequestRoute,
  RouteDecision,
  RouteOutcome,
  RouteReason,
  RouterEvents,
} from './router.js';
export { ERROR_REASONS } from './router.js';
export type { MonitoringInput, MonitoringRoute } from './monitoring.js';
export type { RouterOptions, ResolvedRouterOptions, ProxyErrorHook } from './options.js';
export { resolveRouterOptions } from './options.js';
export type { HttpAnswer, NodeView } from './answers.js';
export { errorAnswer, jsonAnswer, nodeView, unavailableAnswer } from './answers.js';
export { bearerMatches, tokenDigest } from './admin.js';
export { logMembership, type MembershipLogger } from './log.js';
export {
  compileKey,
  cookieValue,
  type IncomingHttpHeaders,
  type KeyExtractor,
  type KeyFunction,
  type KeyShorthand,
  type KeySource,
  type RequestView,
} from './request.js';
export {
  EPOCH_HEADER,
  EPOCH_PARAM,
  HOPS_HEADER,
  HOPS_PARAM,
  UNREACHABLE_HEADER,
  readHops,
  redirectLocation,
  stripRouteParams,
  type ClientInfo,
} from './forward.js';
export { canRetry, isUnreachable, MAX_PROXY_ATTEMPTS, type ProxyErrorInfo } from './proxy.js';
export { PROMETHEUS_CONTENT_TYPE, renderMetrics, type MetricFamily } from './metrics.js';
