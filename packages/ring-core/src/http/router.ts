import type { Registry } from 'prom-client';
import { TypedEmitter } from '../events/emitter.js';
import { StaticMembership } from '../membership/static.js';
import { OwnedState } from '../owned/engine.js';
import { Endpoint } from '../owned/endpoint.js';
import type { RingRouteLogger } from '../log.js';
import type { Membership, MembershipStats } from '../membership/types.js';
import { decide, type DecisionReason, type RoutingAction } from '../routing/decide.js';
import type { Ring } from '../types.js';
import { errorAnswer, jsonAnswer, nodeView, unavailableAnswer, type HttpAnswer } from './answers.js';
import { Ejector } from './ejection.js';
import { proxyWithFallback, type ProxyContext, type ProxyLogger } from './fallback.js';
import { EPOCH_PARAM, HOPS_PARAM, readHops, readUnreachable, redirectLocation, stripRouteParams } from './forward.js';
import { RouterMetrics } from './metrics.js';
import { resolveRouterOptions, type ResolvedRouterOptions, type RouterOptions } from './options.js';
import { canRetry, type ProxyErrorInfo } from './proxy.js';
import type { KeyExtractor, RequestView } from './request.js';
import { sharesOf } from './shares.js';
import type { ProxyAttempt, ProxyFailure, ProxyPlan, RequestRoute, RouteAnswer } from './types.js';

/** Reasons counted as errors (answers other than serve / redirect / proxy / 421). */
export const ERROR_REASONS = ['missing-key', 'key-too-long', 'bad-request', 'not-ready', 'max-hops', 'no-owner', 'proxy-failed'] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

export interface DecisionCounters {
  local: number;
  redirect: number;
  proxy: number;
  refuse: number;
  /** Requests that arrived at a node that does not own their key (whatever happened next). */
  misrouted: number;
  /** Routed requests by hops made before arriving (index 3 = 3 or more). */
  hops: number[];
  /** Sum of `errorsByReason`. */
  errors: number;
  errorsByReason: Record<ErrorReason, number>;
}

/** Emitted for every routed request (only built when someone listens). */
export interface DecisionEvent {
  key: string | undefined;
  action: RoutingAction | 'error';
  reason: DecisionReason | ErrorReason;
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

/** Redirect parameters are routing metadata, not application input: dropped before keying. */
function dropRouteParams(query: unknown): void {
  if (query === null || typeof query !== 'object') return;
  delete (query as Record<string, unknown>)[HOPS_PARAM];
  delete (query as Record<string, unknown>)[EPOCH_PARAM];
}

/** Over-long keys: 414 when they came in the URI, 431 from a header or cookie, 400 from a function. */
const TOO_LONG = {
  query: [414, 'URI Too Long'],
  params: [414, 'URI Too Long'],
  header: [431, 'Request Header Fields Too Large'],
  cookie: [431, 'Request Header Fields Too Large'],
  function: [400, 'Bad Request'],
} as const;

const validEncoding = (url: string) => {
  try {
    decodeURI(url);
    return true;
  } catch {
    return false;
  }
};

/**
 * The kernel every adapter calls: validates options, makes the one routing decision per request (`handle`),
 * proxies with fallback and passive health (`proxyWithFallback`), counts and emits events. Monitoring and admin
 * read it from `./monitoring`.
 */
export class RingRouter<Req extends object = RequestView> extends TypedEmitter<RouterEvents> {
  readonly options: ResolvedRouterOptions<Req>;
  readonly membership: Membership;
  /** true when the router built the membership (from `nodes`); it is then always stopped on close. */
  readonly ownsMembership: boolean;
  readonly counters: DecisionCounters;
  /** Passive health of proxy targets; undefined unless `misroute: 'proxy'` (and `ejection` is not false). */
  readonly ejector: Ejector | undefined;
  readonly metrics: RouterMetrics;
  /**
   * Transfers of owned state between nodes (`<prefix>/api/routes/handoff…`): adapters serve them before routing
   * (`matches`, then `serve` on the raw request and response).
   */
  readonly handoffEndpoint: Endpoint;
  private readonly proxyContext: ProxyContext;
  private started: Promise<void> | undefined;
  private ownedState: OwnedState | undefined;
  private shareCache: { ring: Ring; shares: Map<string, number> } | undefined;

  constructor(options: RouterOptions<Req>, adapterOptions: readonly string[] = []) {
    super();
    this.options = resolveRouterOptions(options, adapterOptions);
    this.ownsMembership = this.options.membership === undefined;
    this.membership =
      this.options.membership ??
      new StaticMembership({ nodes: this.options.nodes!, self: this.options.self, healthCheck: options.healthCheck });
    this.counters = {
      local: 0,
      redirect: 0,
      proxy: 0,
      refuse: 0,
      misrouted: 0,
      hops: [0, 0, 0, 0],
      errors: 0,
      errorsByReason: Object.fromEntries(ERROR_REASONS.map((r) => [r, 0])) as Record<ErrorReason, number>,
    };
    const { ejection } = this.options;
    this.ejector = ejection && this.options.misroute === 'proxy' ? new Ejector(ejection, () => this.ring) : undefined;
    this.metrics = new RouterMetrics(this.options.registry as Registry | undefined, this.options.self, this);
    // Active once this node keeps owned state (only its own nodes with state() use it); others are answered 404.
    const active = () => (this.ownedState?.active ? this.ownedState.handlers : undefined);
    this.handoffEndpoint = new Endpoint(this.options.prefix, this.membership.signer, active);
    // With a `state` option the engine starts now, so that `state.persist` is checked with every other option.
    if (this.options.state !== undefined) this.owned();
    this.proxyContext = {
      ejector: this.ejector,
      observe: (seconds, outcome) => this.metrics.observeProxy(seconds, outcome),
      failed: (plan, error, tried) => this.proxyFailed(plan, error, tried),
    };
  }

  /** The current ring, or undefined before the membership has its first one. */
  get ring(): Ring | undefined {
    return this.membership.ready ? this.membership.ring : undefined;
  }

  get ready(): boolean {
    return this.membership.ready;
  }

  /** Why this node cannot route yet: what the membership's start waits for (naming its store), or that it has no ring. */
  get notReadyReason(): string {
    return this.membership.waiting ?? 'this node has no ring yet';
  }

  /** Starts the membership unless it is ready already; resolves with the first ring. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.membership.ready ? Promise.resolve() : this.membership.start();
    return this.started;
  }

  /**
   * The owned-state engine (`state()` / `adopt()` in the adapters), started on first use (or at once with the `state`
   * option). `logger`: where it logs from now on.
   */
  owned(logger?: RingRouteLogger): OwnedState {
    this.ownedState ??= new OwnedState({
      membership: this.membership,
      self: this.options.self,
      prefix: this.options.prefix,
      registry: this.metrics.registry,
      options: this.options.state,
    });
    if (logger) this.ownedState.useLogger(logger);
    return this.ownedState;
  }

  /** Handoff progress for stats; undefined while no owned state is in use. */
  handoffProgress() {
    return this.ownedState?.progress();
  }

  /**
   * Leaves the cluster when the router owns the membership or `leaveOnClose` is on (the default): owned state is
   * handed over first, so no key is lost.
   */
  async close(): Promise<void> {
    this.ejector?.close();
    const leave = this.ownsMembership || this.options.leaveOnClose;
    await this.ownedState?.close(leave);
    if (leave) await this.membership.stop();
  }

  /** The one answer for a request: serve, a ready answer, or a proxy plan. `key` overrides the extractor (per route). */
  handle(request: Req, key: KeyExtractor<Req> = this.options.key): RouteAnswer {
    const view = request as unknown as RequestView;
    const url = view.originalUrl ?? view.url;
    if (url.includes('rr_hops=')) dropRouteParams(view.query);
    const value = key(request);
    if (value === undefined)
      return this.fail(
        view,
        undefined,
        'missing-key',
        errorAnswer(400, 'Bad Request', 'missing-key', `routing key missing: expected ${key.describe}`),
      );
    const { maxKeyLength } = this.options;
    if (value.length > maxKeyLength) {
      const [status, title] = TOO_LONG[key.place];
      return this.fail(
        view,
        undefined,
        'key-too-long',
        errorAnswer(status, title, 'key-too-long', `routing key (${key.describe}) longer than ${maxKeyLength} characters`, {
          maxKeyLength,
        }),
      );
    }
    const ring = this.ring;
    if (ring === undefined) return this.fail(view, undefined, 'not-ready', this.unavailable('not-ready', this.notReadyReason));

    const hops = readHops(view.headers, url);
    const { self, misroute, enforceRouting, maxHops } = this.options;
    const reported = readUnreachable(view.headers);
    const ejector = this.ejector?.size ? this.ejector : undefined;
    const unavailable =
      reported || ejector ? (id: string) => reported?.includes(id) === true || ejector?.isEjected(id) === true : undefined;
    const decision = decide(ring, value, { self, policy: misroute, enforce: enforceRouting, hops, maxHops, unavailable });
    const route: RequestRoute = { key: value, owner: decision.owner, epoch: decision.epoch, decision, hops };
    if (decision.owner !== undefined && decision.owner.id !== self) this.counters.misrouted++;
    this.counters.hops[Math.min(hops, 3)]!++;
    if (decision.action !== 'local' && url.includes('%') && !validEncoding(url))
      return this.fail(
        view,
        route,
        'bad-request',
        errorAnswer(400, 'Bad Request', 'bad-request', 'malformed percent-encoding in the request target'),
      );

    switch (decision.action) {
      case 'local':
        this.counters.local++;
        this.emitDecision(view, route, undefined);
        return { kind: 'serve', route };
      case 'proxy':
        this.counters.proxy++;
        this.emitDecision(view, route, undefined);
        return {
          kind: 'proxy',
          route,
          plan: { route, path: stripRouteParams(url), retry: canRetry(view.method, view.headers), request: view },
        };
      case 'redirect': {
        this.counters.redirect++;
        const owner = decision.owner!;
        const location = redirectLocation(owner.url!, url, hops + 1, decision.epoch);
        const answer = jsonAnswer(
          this.options.redirectStatus,
          { redirect: location, owner: owner.id, epoch: decision.epoch },
          { location },
        );
        this.emitDecision(view, route, answer.status);
        return { kind: 'answer', route, answer };
      }
      case 'refuse':
        return this.refuse(view, route);
    }
  }

  /** Proxies a planned request through the adapter's `attempt`; resolves with the failure (and its answer) when no candidate took it. */
  proxyWithFallback(plan: ProxyPlan, attempt: ProxyAttempt, logger?: ProxyLogger): Promise<ProxyFailure | undefined> {
    const ring = this.ring;
    if (ring === undefined)
      return Promise.resolve({
        answer: this.unavailable('not-ready', this.notReadyReason),
        error: new Error('no ring'),
        tried: [],
      });
    return proxyWithFallback(this.proxyContext, ring, plan, attempt, logger);
  }

  membershipStats(): MembershipStats {
    return this.membership.stats();
  }

  /** Each member's share of a fixed key sample (cached per ring). */
  shares(): Map<string, number> {
    const ring = this.ring;
    if (ring === undefined) return new Map();
    if (this.shareCache?.ring !== ring) this.shareCache = { ring, shares: sharesOf(ring) };
    return this.shareCache.shares;
  }

  ejection(): { ejections: number; ejected: string[] } {
    return { ejections: this.ejector?.ejections ?? 0, ejected: this.ejector?.list() ?? [] };
  }

  /** The answer when every target failed: `onProxyError`'s shape over the default 503 + Retry-After. */
  private proxyFailed(plan: ProxyPlan, error: Error, tried: readonly string[]): HttpAnswer {
    const { route, request } = plan;
    const info: ProxyErrorInfo = {
      error,
      key: route.key,
      method: request.method,
      url: plan.path,
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

  private refuse(view: RequestView, route: RequestRoute): RouteAnswer {
    const { decision } = route;
    const owner = decision.owner && nodeView(decision.owner);
    const { epoch } = decision;
    switch (decision.reason) {
      case 'max-hops':
        return this.fail(
          view,
          route,
          'max-hops',
          errorAnswer(
            508,
            'Loop Detected',
            'max-hops',
            `request made ${route.hops} hops (maxHops ${this.options.maxHops}) without reaching the owner`,
            { owner, epoch, hops: route.hops, maxHops: this.options.maxHops },
          ),
        );
      case 'no-owner':
        return this.fail(view, route, 'no-owner', this.unavailable('no-owner', 'no routable node owns this key', { epoch }));
      default: {
        this.counters.refuse++;
        const message =
          decision.reason === 'no-url'
            ? `node ${JSON.stringify(owner!.id)} owns this key but has no URL`
            : `node ${JSON.stringify(owner!.id)} owns this key`;
        const answer = errorAnswer(421, 'Misdirected Request', decision.reason, message, { owner, epoch });
        this.emitDecision(view, route, 421);
        return { kind: 'answer', route, answer };
      }
    }
  }

  private unavailable(reason: ErrorReason, message: string, details: Record<string, unknown> = {}): HttpAnswer {
    return unavailableAnswer(reason, message, this.options.retryAfter, details);
  }

  private fail(view: RequestView, route: RequestRoute | undefined, reason: ErrorReason, answer: HttpAnswer): RouteAnswer {
    this.countError(reason);
    this.emitDecision(view, route, answer.status, reason);
    return { kind: 'answer', route, answer };
  }

  private countError(reason: ErrorReason): void {
    this.counters.errors++;
    this.counters.errorsByReason[reason]++;
  }

  /** Builds the event only when someone listens: this runs for every request. `error` marks an error answer. */
  private emitDecision(view: RequestView, route: RequestRoute | undefined, status: number | undefined, error?: ErrorReason): void {
    if (this.listenerCount('decision') === 0) return;
    this.emit('decision', {
      key: route?.key,
      action: error === undefined ? route!.decision.action : 'error',
      reason: error ?? route!.decision.reason,
      status,
      owner: route?.owner?.id,
      epoch: route?.epoch,
      hops: route?.hops ?? 0,
      method: view.method,
      url: view.originalUrl ?? view.url,
    });
  }

  /** Listeners are observers: their failures are theirs and never break request handling. */
  protected override onListenerError(): void {}
}
