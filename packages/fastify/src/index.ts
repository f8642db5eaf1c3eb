export { ringRoute, type RingRouteDecoration, type RingRouteOptions, type RingRouteRouteConfig } from './plugin.js';
export { ringRoute as default } from './plugin.js';
export type { DecisionEvent, HttpAnswer, KeySource, ProxyErrorInfo, RequestRoute, RouteDecision } from '@ringroute/ring-core/http';
