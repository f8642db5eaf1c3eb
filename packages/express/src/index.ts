import './types.js';

export { ringRoute, type RingRouteMiddleware, type RingRouteOptions } from './middleware.js';
export type { RingRouteLogger } from './types.js';
export type { ProxyTimeouts } from './proxy/forwarder.js';
export type {
  DecisionEvent,
  HttpAnswer,
  KeySource,
  ProxyErrorHook,
  ProxyErrorInfo,
  RequestRoute,
  RouteDecision,
  RouterEvents,
} from '@ringroute/ring-core/http';
