import { TypedEmitter } from '../events/emitter.js';
import { StaticMembership } from '../membership/static.js';
import type { Membership } from '../membership/types.js';
import { isRoutable } from '../ring/nodes.js';
import { decide, type DecisionReason, type RoutingAction } from '../routing/decide.js';
import type { Ring, RingNode } from '../types.js';
import { errorAnswer, jsonAnswer, nodeView, unavailableAnswer, type HttpAnswer, type NodeView } from './answers.js';
import {
  type ClientInfo,
  EPOCH_PARAM,
  HOPS_PARAM,
  joinUrl,
  proxyHeaders,
  readHops,
  readUnreachable,
  redirectLocation,
  stripRouteParams,
} from './forward.js';
import { renderMetrics, type MetricFamily } from './metrics.js';
import { monitoringRoutes, type MonitoringRoute } from './monitoring.js';
import { resolveRouterOptions, type ResolvedRouterOptions, type RouterOptions } from './options.js';
import { canRetry, proxyTargets, type ProxyErrorInfo } from './proxy.js';
import type { KeyExtractor, RequestView } from './request.js';

/** decide()'s reasons plus 'fallback': the owner was reported unreachable and this node is the next candidate. */
export type RouteReason = DecisionReason | 'fallback';

export interface RouteDecision {
  action: RoutingAction;
  owner: RingNode | undefined;
  epoch: number;
  reason: RouteReason;
}

/** What an adapter attaches to the request (`request.ringRoute` / `req.ringRoute`). */
export interface RequestRoute {
  key: string;
  /** The owner by the ring (undefined when nothing is routable). */
  owner: RingNode | undefined;
  epoch: number;
  decision: RouteDecision;
  /** Hops the request made before reaching this node. */
  hops: number;
}

/**
 * The router's verdict. `answer` set: send it and stop. Otherwise `route.decision.action` is 'local' (continue
 * to the handler) or 'proxy' (forward with `proxyPlan`).
 */
export type RouteOutcome =
  | { route: RequestRoute; answer?: undefined }
  | { route: RequestRoute | undefined; answer: HttpAnswer };

/** Reasons counted as errors (answers other than serve / redirect / proxy / 421). */
export const ERROR_REASONS = ['missing-key', 'key-too-long', 'not-ready', 'max-hops', 'no-owner', 'proxy-failed'] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

export interface DecisionCounters {
  local: number;
  redirect: number;
  proxy: number;
  refuse: number;
  /** Sum of `errorsByReason`. */
  errors: number;
  errorsByReason: Record<ErrorReason, number>;
}

/** Emitted for every routed request (only built when someone listens). */
export interface DecisionEvent {
  key: string | undefined;
  action: RoutingAction | 'error';
  reason: RouteReason | ErrorReason;
  /** Status of the router's own answer; undefined when the request went on (local) or was proxied. */
  status: number | undefined;
  owner: string | undefined;
  epoch: number | undefined;
  hops: number;
  method: string;
  url: string;
}

export interface RouterEvents {
  decision: (event: DecisionEvent) => void;
  'proxy-error': (info: ProxyErrorInfo) => void;
}

/** What to forward and where: `targets[0]` is the owner; further targets only when a retry is safe. */
export interface ProxyPlan {
  /** Origin-form path and query without RingRoute parameters. */
  path: string;
  targets: RingNode[];
}

function dropRouteParams(query: unknown): void {
  if (query === null || typeof query !== 'object') return;
  delete (query as Record<string, unknown>)[HOPS_PARAM];
  delete (query as Record<string, unknown>)[EPOCH_PARAM];
}

const NONE: readonly string[] = [];

/** Key sample for per-node shares: fixed, so every node reports comparable numbers. */
const SHARE_SAMPLE = 4096;

/**
 * The framework-free core of the Fastify plugin and the Express middleware: validates options, owns the routing
 * decision for each request, builds every answer (redirect, 421, 508, 503, 400, 414), plans proxying, counts,
 * emits events, and serves the monitoring and admin routes.
 */
export class RingRouter<Req extends object = RequestView> extends TypedEmitter<RouterEvents> {
  readonly options: ResolvedRouterOptions<Req>;
  readonly membership: Membership;
  /** true when the router built the membership (from `nodes`); it is then always stopped on close. */
  readonly ownsMembership: boolean;
  readonly counters: DecisionCounters;
  readonly monitoringRoutes: readonly MonitoringRoute[];
  private shares: { ring: Ring; share: Map<string, number> } | undefined;
  private started: Promise<void> | undefined;

  constructor(options: RouterOptions<Req>) {
    super();
    this.options = resolveRouterOptions(options);
    this.ownsMembership = this.options.membership === undefined;
    this.membership =
      this.options.membership ??
      new StaticMembership({ nodes: this.options.nodes!, self: this.options.self, healthCheck: options.healthCheck });
    this.counters = {
      local: 0,
      redirect: 0,
      proxy: 0,
      refuse: 0,
      errors: 0,
      errorsByReason: Object.fromEntries(ERROR_REASONS.map((r) => [r, 0])) as Record<ErrorReason, number>,
    };
    this.monitoringRoutes = monitoringRoutes(this as RingRouter<never>);
  }

  /** The current ring, or undefined before the membership has its first one. */
  get ring(): Ring | undefined {
    return this.membership.ready ? this.membership.ring : undefined;
  }

  get ready(): boolean {
    return this.membership.ready;
  }

  /** Starts the membership unless it is ready already; resolves with the first ring. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.membership.ready ? Promise.resolve() : this.membership.start();
    return this.started;
  }

  /** Leaves the cluster when the router owns the membership or `leaveOnClose` is on (the default). */
  async close(): Promise<void> {
    if (this.ownsMembership || this.options.leaveOnClose) await this.membership.stop();
  }

  /** Routes one request. `key` overrides the configured extractor (per-route keys). */
  route(request: Req, key: KeyExtractor<Req> = this.options.key): RouteOutcome {
    const view = request as unknown as RequestView;
    const url = view.originalUrl ?? view.url;
    // Redirect parameters are routing metadata, not application input: drop them before keying.
    if (url.includes('rr_hops=')) dropRouteParams(view.query);
    const value = key(request);
    if (value === undefined)
      return this.fail(view, undefined, 'missing-key', errorAnswer(400, 'Bad Request', 'missing-key', `routing key missing: expected ${key.describe}`));
    const { maxKeyLength } = this.options;
    if (value.length > maxKeyLength)
      return this.fail(view, undefined, 'key-too-long', errorAnswer(414, 'URI Too Long', 'key-too-long', `routing key longer than ${maxKeyLength} characters`, { maxKeyLength }));
    const ring = this.ring;
    if (ring === undefined)
      return this.fail(view, undefined, 'not-ready', this.unavailable('not-ready', 'this node has no ring yet'));

    const hops = readHops(view.headers, url);
    const { self, misroute, enforceRouting, maxHops } = this.options;
    let decision: RouteDecision = decide(ring, value, { self, policy: misroute, enforce: enforceRouting, hops, maxHops });
    if (decision.reason === 'not-owner' && this.isFallback(ring, value, decision.owner!, view))
      decision = { action: 'local', owner: decision.owner, epoch: decision.epoch, reason: 'fallback' };
    const route: RequestRoute = { key: value, owner: decision.owner, epoch: decision.epoch, decision, hops };

    switch (decision.action) {
      case 'local':
      case 'proxy':
        this.counters[decision.action]++;
        this.emitDecision(view, route, undefined);
        return { route };
      case 'redirect': {
        this.counters.redirect++;
        const owner = decision.owner!;
        const location = redirectLocation(owner.url!, url, hops + 1, decision.epoch);
        const answer = jsonAnswer(this.options.redirectStatus, { redirect: location, owner: owner.id, epoch: decision.epoch }, { location });
        this.emitDecision(view, route, answer.status);
        return { route, answer };
      }
      case 'refuse':
        return this.refuse(view, route);
    }
  }

  /** Where to forward a request the router decided to proxy. */
  proxyPlan(request: Req, route: RequestRoute): ProxyPlan {
    const view = request as unknown as RequestView;
    const ring = this.ring!;
    return {
      path: stripRouteParams(view.originalUrl ?? view.url),
      targets: proxyTargets(ring, route.key, route.owner!, canRetry(view.method, view.headers)),
    };
  }

  /** The upstream URL of one target. */
  upstreamUrl(target: RingNode, plan: ProxyPlan): string {
    return joinUrl(target.url!, plan.path);
  }

  /**
   * Headers to add when forwarding to `plan.targets[attempt]`: hops + 1, the epoch, Forwarded / X-Forwarded-*,
   * and the owners tried before it (so the next candidate serves the key instead of forwarding it back).
   */
  proxyHeaders<T extends Record<string, unknown> = Record<string, string>>(
    request: Req,
    route: RequestRoute,
    plan: ProxyPlan,
    attempt: number,
    client: ClientInfo,
    /** Write into this object (e.g. the proxy library's copy of the request headers) instead of a new one. */
    into?: T,
  ): T {
    const view = request as unknown as RequestView;
    const unreachable = attempt === 0 ? NONE : plan.targets.slice(0, attempt).map((n) => n.id);
    return proxyHeaders(view.headers, client, route.hops + 1, route.epoch, unreachable, into) as T;
  }

  /** The answer when every target failed: `onProxyError`'s shape over the default 503 + Retry-After. */
  proxyFailed(request: Req, route: RequestRoute, error: Error, tried: readonly string[]): HttpAnswer {
    const view = request as unknown as RequestView;
    const info: ProxyErrorInfo = {
      error,
      key: route.key,
      method: view.method,
      url: stripRouteParams(view.originalUrl ?? view.url),
      owner: route.owner && nodeView(route.owner),
      tried,
      epoch: route.epoch,
    };
    this.countError('proxy-failed');
    this.emit('proxy-error', info);
    const fallback = this.unavailable('proxy-failed', `owner ${JSON.stringify(route.owner?.id)} could not be reached`, { tried });
    const shaped = this.options.onProxyError?.(info);
    if (!shaped) return fallback;
    return {
      status: shaped.status ?? fallback.status,
      headers: shaped.headers ?? (shaped.body === undefined ? fallback.headers : { 'content-type': 'text/plain; charset=utf-8' }),
      body: shaped.body ?? fallback.body,
    };
  }

  /** `GET <prefix>/route?key=`: the owner, the fallback candidates and the epoch. */
  describeKey(key: string): { key: string; owner: NodeView | undefined; candidates: NodeView[]; local: boolean; epoch: number; checksum: string } | undefined {
    const ring = this.ring;
    if (!ring) return undefined;
    const owner = ring.owner(key);
    return {
      key,
      owner: owner && nodeView(owner),
      candidates: [...ring.candidates(key)].filter(isRoutable).map(nodeView),
      local: owner?.id === this.options.self,
      epoch: ring.epoch,
      checksum: ring.checksum,
    };
  }

  /** `GET <prefix>/api/routes/stats`: members with their share of a fixed key sample, and the decision counters. */
  stats() {
    const ring = this.ring;
    const share = ring ? this.sharesOf(ring) : new Map<string, number>();
    return {
      self: this.options.self,
      ready: this.ready,
      epoch: ring?.epoch,
      checksum: ring?.checksum,
      nodes: (ring?.nodes ?? []).map((n) => ({ ...nodeView(n), weight: n.weight, share: share.get(n.id) ?? 0 })),
      counters: { ...this.counters, errorsByReason: { ...this.counters.errorsByReason } },
      membership: this.membership.stats(),
    };
  }

  /** `GET <prefix>/metrics` in Prometheus text format. */
  metrics(): string {
    const node = this.options.self;
    const ring = this.ring;
    const m = this.membership.stats();
    const share = ring ? this.sharesOf(ring) : new Map<string, number>();
    const actions = ['local', 'redirect', 'proxy', 'refuse'] as const;
    const families: MetricFamily[] = [
      { name: 'ringroute_decisions_total', help: 'Routed requests by action.', type: 'counter', samples: actions.map((a) => [{ node, action: a }, this.counters[a]]) },
      { name: 'ringroute_errors_total', help: 'Requests answered with an error, by reason.', type: 'counter', samples: ERROR_REASONS.map((r) => [{ node, reason: r }, this.counters.errorsByReason[r]]) },
      { name: 'ringroute_ready', help: '1 once the membership has its first ring.', type: 'gauge', samples: [[{ node }, this.ready ? 1 : 0]] },
      { name: 'ringroute_ring_epoch', help: 'Epoch of the current ring.', type: 'gauge', samples: [[{ node }, ring?.epoch ?? 0]] },
      { name: 'ringroute_ring_members', help: 'Members of the current ring by status.', type: 'gauge', samples: (ring?.nodes ?? []).reduce<[Record<string, string>, number][]>((acc, n) => {
        const row = acc.find(([l]) => l.status === n.status);
        if (row) row[1]++;
        else acc.push([{ node, status: n.status }, 1]);
        return acc;
      }, []) },
      { name: 'ringroute_node_share', help: 'Share of a fixed key sample owned by each member.', type: 'gauge', samples: [...share].map(([id, s]) => [{ node, member: id }, s]) },
      { name: 'ringroute_membership_degraded', help: '1 while the membership backend is unreachable.', type: 'gauge', samples: [[{ node }, m.degraded ? 1 : 0]] },
      { name: 'ringroute_membership_applied_total', help: 'Ring changes applied.', type: 'counter', samples: [[{ node }, m.applied]] },
      { name: 'ringroute_membership_dropped_total', help: 'Membership messages refused, by reason.', type: 'counter', samples: Object.entries(m.dropped).map(([reason, n]) => [{ node, reason }, n]) },
      { name: 'ringroute_membership_resyncs_total', help: 'Full resynchronisations of the shared snapshot.', type: 'counter', samples: [[{ node }, m.resyncs]] },
    ];
    return renderMetrics(families);
  }

  private isFallback(ring: Ring, key: string, owner: RingNode, view: RequestView): boolean {
    const unreachable = readUnreachable(view.headers);
    if (!unreachable?.includes(owner.id)) return false;
    for (const node of ring.candidates(key)) {
      if (!isRoutable(node)) return false;
      if (!unreachable.includes(node.id)) return node.id === this.options.self;
    }
    return false;
  }

  private refuse(view: RequestView, route: RequestRoute): RouteOutcome {
    const { decision } = route;
    const owner = decision.owner && nodeView(decision.owner);
    const { epoch } = decision;
    switch (decision.reason) {
      case 'max-hops':
        return this.fail(view, route, 'max-hops', errorAnswer(508, 'Loop Detected', 'max-hops', `request made ${route.hops} hops (maxHops ${this.options.maxHops}) without reaching the owner`, { owner, epoch, hops: route.hops, maxHops: this.options.maxHops }));
      case 'no-owner':
        return this.fail(view, route, 'no-owner', this.unavailable('no-owner', 'no routable node owns this key', { epoch }));
      default: {
        this.counters.refuse++;
        const message = decision.reason === 'no-url' ? `node ${JSON.stringify(owner!.id)} owns this key but has no URL` : `node ${JSON.stringify(owner!.id)} owns this key`;
        const answer = errorAnswer(421, 'Misdirected Request', decision.reason, message, { owner, epoch });
        this.emitDecision(view, route, 421);
        return { route, answer };
      }
    }
  }

  private unavailable(reason: ErrorReason, message: string, details: Record<string, unknown> = {}): HttpAnswer {
    return unavailableAnswer(reason, message, this.options.retryAfter, details);
  }

  private fail(view: RequestView, route: RequestRoute | undefined, reason: ErrorReason, answer: HttpAnswer): RouteOutcome {
    this.countError(reason);
    this.emitDecision(view, route, answer.status, reason);
    return { route, answer };
  }

  private countError(reason: ErrorReason): void {
    this.counters.errors++;
    this.counters.errorsByReason[reason]++;
  }

  /** Builds the event only when someone listens: this runs for every request. `error` marks an error answer. */
  private emitDecision(view: RequestView, route: RequestRoute | undefined, status: number | undefined, error?: ErrorReason): void {
    if (this.listenerCount('decision') === 0) return;
    const event: DecisionEvent = {
      key: route?.key,
      action: error === undefined ? route!.decision.action : 'error',
      reason: error ?? route!.decision.reason,
      status,
      owner: route?.owner?.id,
      epoch: route?.epoch,
      hops: route?.hops ?? 0,
      method: view.method,
      url: view.originalUrl ?? view.url,
    };
    this.emit('decision', event);
  }

  /** Listeners are observers: their failures are theirs and never break request handling. */
  protected override onListenerError(): void {}

  private sharesOf(ring: Ring): Map<string, number> {
    if (this.shares?.ring === ring) return this.shares.share;
    const counts = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
    for (let i = 0; i < SHARE_SAMPLE; i++) {
      const owner = ring.owner(`ringroute-sample-${i}`);
      if (owner) counts.set(owner.id, counts.get(owner.id)! + 1);
    }
    for (const [id, n] of counts) counts.set(id, n / SHARE_SAMPLE);
    this.shares = { ring, share: counts };
    return counts;
  }
}
