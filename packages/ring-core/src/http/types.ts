import type { RoutingDecision } from '../routing/decide.js';
import type { RingNode } from '../types.js';
import type { HttpAnswer } from './answers.js';
import type { RequestView } from './request.js';

/** What an adapter attaches to the request (`request.ringRoute` / `req.ringRoute`). */
export interface RequestRoute {
  key: string;
  /** The owner by the ring (undefined when nothing is routable). */
  owner: RingNode | undefined;
  epoch: number;
  decision: RoutingDecision;
  /** Hops the request made before reaching this node. */
  hops: number;
}

/** What to forward: the request's path and query (without RingRoute parameters), and whether a retry is safe. */
export interface ProxyPlan {
  route: RequestRoute;
  /** Origin-form path and query without RingRoute parameters. */
  path: string;
  /** true when nothing could have reached an owner that failed: the next candidate may be tried. */
  retry: boolean;
  request: RequestView;
}

/**
 * The router's one answer for a request: `serve` it here (attach `route`), send a ready `answer` (redirect, 421,
 * 4xx, 503), or `proxy` it with `router.proxyWithFallback(plan, attempt)`.
 */
export type RouteAnswer =
  | { kind: 'serve'; route: RequestRoute }
  | { kind: 'answer'; route: RequestRoute | undefined; answer: HttpAnswer }
  | { kind: 'proxy'; route: RequestRoute; plan: ProxyPlan };

/** How one forwarding attempt ended: not `sent` means nothing reached the client, so it can still be answered. */
export type AttemptResult = { sent: true } | { sent: false; error: Error };

/** The adapter's part of proxying: forward the request to `url` with `headers` added, streaming the answer back. */
export type ProxyAttempt = (url: string, headers: Record<string, string>, node: RingNode) => Promise<AttemptResult>;

/** Proxying failed: send `answer` (onProxyError's shape or 503); `error` is the last failure, `tried` the nodes tried. */
export interface ProxyFailure {
  answer: HttpAnswer;
  error: Error;
  tried: readonly string[];
}
