/**
 * `@ringroute/ring-core/http`: the kernel the Fastify plugin, the Express middleware and the Hocuspocus extension
 * share, in framework-free terms (Node-only). An adapter only translates.
 *
 * ```ts
 * const router = createRouter<MyRequest>(options);   // validates every option (errors name it, unknown ones too)
 * await router.start();                              // starts the membership unless it is ready
 *
 * // per request (a Fastify or Express request already has the RequestView shape)
 * const result = router.handle(req);                 // or router.handle(req, compileKey(routeKey, 'config.ringRoute.key'))
 * if (result.route) req.ringRoute = result.route;    // { key, owner, epoch, decision, hops }
 * switch (result.kind) {
 *   case 'serve': return next();
 *   case 'answer': return send(result.answer);       // 307/308, 421, 508, 503, 400, 414, 431
 *   case 'proxy': {                                  // the adapter forwards; ring-core walks candidates, retries, ejects
 *     const failed = await router.proxyWithFallback(result.plan, (url, headers) => forward(url, headers));
 *     if (failed) send(failed.answer);               // onProxyError's shape or 503 + Retry-After
 *   }
 * }
 *
 * // monitoring + admin: Fastify registers monitoring.routes; others match(method, path) and serve(match, req)
 * const monitoring = createMonitoring(router);
 *
 * router.on('decision', (event) => log(event));      // typed events: 'decision', 'proxy-error'
 * await router.close();                              // leaves the cluster (stops the membership) when it should
 * ```
 *
 * Hops: a redirect's Location carries `rr_hops` / `rr_epoch` (clients do not resend custom headers); a proxied
 * request carries `x-ringroute-hops`. A request that made `maxHops` hops gets 508, and
 * the receiving node checks ownership itself (never checksum equality).
 */
import { RingRouter } from './router.js';
import type { RouterOptions } from './options.js';
import type { RequestView } from './request.js';

/** Builds the router every adapter uses; `nodes` becomes a StaticMembership the router owns. `adapterOptions` are the adapter's own option names. */
export function createRouter<Req extends object = RequestView>(
  options: RouterOptions<Req>,
  adapterOptions: readonly string[] = [],
): RingRouter<Req> {
  return new RingRouter<Req>(options, adapterOptions);
}

export { RingRouter };
export type { DecisionCounters, DecisionEvent, ErrorReason, RouterEvents } from './router.js';
export { ERROR_REASONS } from './router.js';
export type { AttemptResult, ProxyAttempt, ProxyFailure, ProxyPlan, RequestRoute, RouteAnswer } from './types.js';
export type { RoutingDecision, DecisionReason } from '../routing/decide.js';
export {
  bearerMatches,
  createMonitoring,
  healthBody,
  readJson,
  routerStats,
  tokenDigest,
  type Monitoring,
  type MonitoredRequest,
  type MonitoringRoute,
  type RouterStats,
} from './monitoring/index.js';
export type { RouterOptions, ResolvedRouterOptions, ProxyErrorHook, ProxyTimeouts } from './options.js';
export { ROUTER_OPTIONS } from './options.js';
export type { EjectionOptions } from './ejection.js';
export type { HttpAnswer, NodeView } from './answers.js';
export { errorAnswer, jsonAnswer, nodeView, unavailableAnswer } from './answers.js';
export { logAnswer, logMembership, type MembershipLogger } from './log.js';
export { compileKey, type KeyExtractor, type KeySource, type RequestView } from './request.js';
export { endToEnd, stripRouteParams } from './forward.js';
export { isUnreachable, type ProxyErrorInfo } from './proxy.js';
