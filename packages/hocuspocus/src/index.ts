/**
 * `@ringroute/hocuspocus`: the SmartRoute extension for @hocuspocus/server 3.4.x and 4.x.
 * The browser-safe client helper is `@ringroute/hocuspocus/client`.
 */
export { SmartRoute, DocumentRefusal, type SmartRouteCounters } from './smart-route/index.js';
export type {
  AvailableNode,
  ClusterNode,
  CustomRoutingFunction,
  RedisConnection,
  SmartRouteHealthCheck,
  SmartRouteOptions,
} from './options/index.js';
export {
  encodeRedirectHint,
  parseRedirectHint,
  HOPS_PARAMETER,
  MISROUTED_REASON,
  REDIRECT_PREFIX,
  RING_PATH,
  UNAVAILABLE_REASON,
  type RedirectHint,
} from './hint/index.js';
