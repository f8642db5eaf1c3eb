import './types.js';

export { ringRoute, type RingRouteMiddleware, type RingRouteOptions } from './middleware.js';
export type { RingRouteLogger } from './types.js';
export type {
  DecisionEvent,
  HttpAnswer,
  KeySource,
  EjectionOptions,
  ProxyErrorHook,
  ProxyErrorInfo,
  ProxyTimeouts,
  RequestRoute,
  RoutingDecision,
  RouterEvents,
  RouterStats,
} from '@ringroute/ring-core/http';
