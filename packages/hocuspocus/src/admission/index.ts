import { decide, type Ring, type RoutingDecision } from '@ringroute/ring-core';
import type { HandoverLedger } from '../handover/ledger.js';
import { encodeRedirectHint, HOPS_PARAMETER, MISROUTED_REASON, REDIRECT_PREFIX, UNAVAILABLE_REASON } from '../hint/index.js';
import { parameter, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ResolvedOptions } from '../options/index.js';
import type { SmartRouteCounters } from '../smart-route/counters.js';
import { DocumentRefusal } from '../smart-route/refusal.js';

/** What admission needs from the rest of SmartRoute. */
export interface AdmissionContext {
  readonly config: ResolvedOptions;
  readonly counters: SmartRouteCounters;
  readonly ledger: HandoverLedger;
  ring(): Ring | undefined;
  instance(): HocuspocusLike | undefined;
  /** Whether nodes can announce handovers to each other (false for a static membership: nobody could answer). */
  coordinated(): boolean;
  /** Whether this node is handing the document over right now. */
  handingOver(documentName: string): boolean;
  /** Asks a previous owner to hand a document over. */
  requestHandover(documentName: string, nodeId: string): void;
  debug(message: string): void;
}

/**
 * The per-document decision: serve here, refuse (with a redirect hint when configured), or wait until the
 * previous owners have handed the document over.
 */
export class Admission {
  /** When this node last asked for a document's handover (requests are repeated, not flooded). */
  private readonly lastRequest = new Map<string, number>();

  constructor(private readonly context: AdmissionContext) {}

  /** The routing decision for a document on this node. */
  decide(documentName: string, hops = 0): RoutingDecision | undefined {
    const ring = this.context.ring();
    if (!ring) return undefined;
    const { nodeId, enforceRouting, redirectOnMisroute, maxHops } = this.context.config;
    return decide(ring, documentName, {
      self: nodeId,
      enforce: enforceRouting,
      policy: redirectOnMisroute ? 'redirect' : 'refuse',
      hops,
      maxHops,
    });
  }

  /** Whether this node owns the document (or nobody does: there is no ring to say otherwise). */
  ownsHere(documentName: string): boolean {
    const owner = this.context.ring()?.owner(documentName);
    return owner === undefined || owner.id === this.context.config.nodeId;
  }

  /** Resolves when the document may be served here; throws the refusal otherwise. */
  async admit(payload: { documentName: string; requestParameters?: URLSearchParams }): Promise<void> {
    const { documentName } = payload;
    const { counters, ledger } = this.context;
    const hopsParameter = Number(parameter(payload, HOPS_PARAMETER) ?? 0);
    const hops = Number.isSafeInteger(hopsParameter) && hopsParameter > 0 ? hopsParameter : 0;
    if (this.context.handingOver(documentName)) throw this.refuse(documentName, hops);
    let waited = false;
    for (;;) {
      const decision = this.decide(documentName, hops);
      if (decision?.action !== 'local') throw this.refuse(documentName, hops, decision); // no ring (left): unavailable
      const mustCheck = this.context.coordinated() && decision.reason === 'owner' && !this.context.instance()?.documents.has(documentName);
      const pending = mustCheck ? ledger.pending(documentName) : [];
      if (pending.length === 0) {
        counters.admitted++;
        if (waited) this.context.debug(`${documentName}: handed over to us, loading`);
        return;
      }
      if (!waited) {
        waited = true;
        counters.waitedForHandover++;
        this.context.debug(`${documentName}: waiting for ${pending.map((p) => p.nodeId).join(', ')} to hand it over`);
      }
      const now = Date.now();
      this.request(
        documentName,
        pending.map((p) => p.nodeId),
      );
      const nextDeadline = Math.min(...pending.map((p) => p.deadline));
      await ledger.changed(Math.min(this.retryInterval, nextDeadline - now));
      if (Date.now() >= nextDeadline && ledger.pending(documentName).length < pending.length) {
        counters.handoverTimeouts++;
        this.context.debug(`${documentName}: no handover within migrationTimeout, loading anyway`);
      }
    }
  }

  /** Resolves true once `nodeId` has handed the document over, or false after migrationTimeout. */
  async waitForHandover(documentName: string, nodeId: string): Promise<boolean> {
    const { ledger, config } = this.context;
    const since = Date.now();
    const deadline = since + config.migrationTimeout;
    while (!ledger.heardHandover(documentName, nodeId, since)) {
      if (Date.now() >= deadline) return false;
      this.request(documentName, [nodeId]);
      await ledger.changed(Math.min(this.retryInterval, deadline - Date.now()));
    }
    return true;
  }

  /** How often a missing handover is asked for again (messages can be missed). */
  private get retryInterval(): number {
    return Math.max(20, Math.min(500, this.context.config.migrationTimeout / 10));
  }

  /** Asks previous owners to hand a document over; repeated at most every retryInterval. */
  request(documentName: string, nodeIds: readonly string[]): void {
    const now = Date.now();
    if ((this.lastRequest.get(documentName) ?? 0) + this.retryInterval > now) return;
    this.lastRequest.set(documentName, now);
    for (const nodeId of nodeIds) this.context.requestHandover(documentName, nodeId);
  }

  /** Forgets requests older than the handover window. */
  prune(now = Date.now()): void {
    const stale = now - this.context.config.migrationTimeout;
    for (const [documentName, at] of this.lastRequest) if (at < stale) this.lastRequest.delete(documentName);
  }

  /** The refusal for a document this node does not serve, counted. */
  refuse(documentName: string, hops: number, decision = this.decide(documentName, hops)): DocumentRefusal {
    const reason = this.refusalReason(documentName, hops, decision);
    if (reason.startsWith(REDIRECT_PREFIX)) this.context.counters.redirected++;
    else this.context.counters.refused++;
    this.context.debug(`${documentName}: refused (${reason})`);
    return new DocumentRefusal(reason);
  }

  /** The reason a refusal or a closed connection carries: a redirect hint, or why there is none. */
  refusalReason(documentName: string, hops: number, decision = this.decide(documentName, hops)): string {
    const owner = decision?.owner;
    if (!decision || !owner || owner.id === this.context.config.nodeId || decision.reason === 'max-hops') return UNAVAILABLE_REASON;
    if (!this.context.config.redirectOnMisroute) return MISROUTED_REASON;
    if (owner.url === undefined) return UNAVAILABLE_REASON;
    return encodeRedirectHint({ documentName, ownerId: owner.id, ownerUrl: owner.url, epoch: decision.epoch, hops: hops + 1 });
  }
}
