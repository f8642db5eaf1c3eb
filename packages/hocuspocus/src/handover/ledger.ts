import type { Ring } from '@ringroute/ring-core';

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

  /** Previous owners of the document (in the window) whose handover is still missing. */
  pending(documentName: string, now = Date.now()): PendingHandover[] {
    const pending = new Map<string, number>();
    let streakOwner: string | undefined;
    let streakStart = -Infinity;
    this.history.forEach((observed, i) => {
      const owner = observed.ring.owner(documentName)?.id;
      if (owner !== streakOwner) {
        streakOwner = owner;
        streakStart = i === 0 ? -Infinity : observed.since;
      }
      if (owner === undefined || owner === this.self || observed.until === undefined) return;
      const deadline = observed.until + this.migrationTimeout;
      if (deadline <= now || this.heardHandover(documentName, owner, streakStart)) return;
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
  }
}
