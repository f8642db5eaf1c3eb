export { ringRoute, type RingRouteDecoration, type RingRouteOptions, type RingRouteRouteConfig } from './plugin.js';
export { ringRoute as default } from './plugin.js';
export type {
  DecisionEvent,
  EjectionOptions,
  HttpAnswer,
  KeySource,
  ProxyErrorInfo,
  ProxyTimeouts,
  RequestRoute,
  RoutingDecision,
  RouterStats,
} from '@ringroute/ring-core/http';
