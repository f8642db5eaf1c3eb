import type { Ring } from '@ringroute/ring-core';

/** A ring as every member names it: its epoch and checksum (a checksum alone recurs when a change is undone). */
export interface RingIdentity {
  epoch: number;
  checksum: string;
}

const identity = ({ epoch, checksum }: RingIdentity) => `${epoch}:${checksum}`;

/** Another node this one must hear a handover from (or wait out) before loading a document. */
export interface PendingHandover {
  nodeId: string;
  /** ms timestamp after which the document is loaded anyway (the old owner may have crashed). */
  deadline: number;
}

interface Observed {
  ring: Ring;
  since: number;
  /** When the next ring replaced it; undefined for the current ring. */
  until: number | undefined;
}

/**
 * The new owner's side of a handover. It remembers the rings of the last `migrationTimeout` ms and the handovers
 * other nodes announced, and answers which previous owners of a document have not handed it over yet. A handover
 * counts only if it was heard after that node's ownership began, so an old one is never taken for a new one.
 */
export class HandoverLedger {
  private readonly history: Observed[] = [];
  /** document -> node -> when its handover was heard. */
  private readonly handovers = new Map<string, Map<string, number>>();
  /** node -> when it announced it holds no document at all (graceful leave). */
  private readonly handedOverAll = new Map<string, number>();
  /** node -> ring identity -> when it announced it holds none of the documents that ring gives to other nodes. */
  private readonly handedOverRings = new Map<string, Map<string, number>>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly self: string,
    private readonly migrationTimeout: number,
  ) {}

  observe(ring: Ring, now = Date.now()): void {
    const last = this.history.at(-1);
    if (last?.ring === ring) return;
    if (last) last.until = now;
    this.history.push({ ring, since: now, until: undefined });
    this.prune(now);
    this.notify();
  }

  handedOver(documentName: string, nodeId: string, now = Date.now()): void {
    let byNode = this.handovers.get(documentName);
    if (!byNode) this.handovers.set(documentName, (byNode = new Map()));
    byNode.set(nodeId, now);
    this.notify();
  }

  handedOverEverything(nodeId: string, now = Date.now()): void {
    this.handedOverAll.set(nodeId, now);
    this.notify();
  }

  /** `nodeId` had this ring and held none of the documents it gives to other nodes (it refuses them from then on). */
  handedOverRing(nodeId: string, ring: RingIdentity, now = Date.now()): void {
    let rings = this.handedOverRings.get(nodeId);
    if (!rings) this.handedOverRings.set(nodeId, (rings = new Map()));
    rings.set(identity(ring), now);
    this.notify();
  }

  /** Previous owners of the document (in the window) whose handover is still missing. */
  pending(documentName: string, now = Date.now()): PendingHandover[] {
    const owners = this.history.map((observed) => observed.ring.owner(documentName)?.id);
    const pending = new Map<string, number>();
    let streakStart = -Infinity;
    this.history.forEach((observed, i) => {
      const owner = owners[i];
      if (i > 0 && owner !== owners[i - 1]) streakStart = observed.since;
      if (owner === undefined || owner === this.self || observed.until === undefined) return;
      const deadline = observed.until + this.migrationTimeout;
      if (deadline <= now || this.heardHandover(documentName, owner, streakStart) || this.handedOverInRing(owner, owners, i)) return;
      pending.set(owner, Math.max(pending.get(owner) ?? 0, deadline));
    });
    return [...pending].map(([nodeId, deadline]) => ({ nodeId, deadline }));
  }

  /** Resolves on the next handover or ring change, or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.listeners.add(done);
    });
  }

  /** Whether `nodeId` announced the handover of the document (or of everything) at or after `since`. */
  heardHandover(documentName: string, nodeId: string, since: number): boolean {
    const heard = [this.handovers.get(documentName)?.get(nodeId), this.handedOverAll.get(nodeId)];
    return heard.some((at) => at !== undefined && at >= since);
  }

  /**
   * Whether `nodeId` announced a ring from index `from` on that gives the document to another node: its ownership
   * streak at `from` had ended there, and it held nothing that ring gives away. The ring is matched by identity in
   * our own history, so a stale announcement (an older ring, or the same members before a change undone) never counts.
   */
  private handedOverInRing(nodeId: string, owners: (string | undefined)[], from: number): boolean {
    const rings = this.handedOverRings.get(nodeId);
    if (!rings) return false;
    for (let k = from; k < this.history.length; k++) if (owners[k] !== nodeId && rings.has(identity(this.history[k]!.ring))) return true;
    return false;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Rings and handovers older than the window can no longer hold a load back. */
  private prune(now: number): void {
    const horizon = now - this.migrationTimeout;
    while (this.history.length > 1 && this.history[0]!.until !== undefined && this.history[0]!.until < horizon) this.history.shift();
    // A handover is compared with ownership starts inside the window; keep it for twice the window.
    const keepFrom = now - 2 * this.migrationTimeout;
    for (const [documentName, byNode] of this.handovers) {
      for (const [nodeId, at] of byNode) if (at < keepFrom) byNode.delete(nodeId);
      if (byNode.size === 0) this.handovers.delete(documentName);
    }
    for (const [nodeId, at] of this.handedOverAll) if (at < keepFrom) this.handedOverAll.delete(nodeId);
    for (const [nodeId, rings] of this.handedOverRings) {
      for (const [ring, at] of rings) if (at < keepFrom) rings.delete(ring);
      if (rings.size === 0) this.handedOverRings.delete(nodeId);
    }
  }
}
