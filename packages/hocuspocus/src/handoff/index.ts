import type { Ring } from '@ringroute/ring-core';

/** Cluster messages of the handoff protocol (sent with `membership.broadcast`, signed like every membership message). */
export const RELEASED = 'ringroute:hocuspocus:released';
export const RELEASE_REQUEST = 'ringroute:hocuspocus:release-request';
export const RELEASED_ALL = 'ringroute:hocuspocus:released-all';

/** Another node this one must hear a release from (or wait out) before loading a document. */
export interface PendingRelease {
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
 * The new owner's side of a document handoff. It remembers the rings of the last `migrationTimeout` ms and the
 * releases other nodes announced, and answers which previous owners of a document have not released it yet.
 * A release counts only if it was heard after that node's ownership began, so an old release is never taken
 * for a new one.
 */
export class HandoffLedger {
  private readonly history: Observed[] = [];
  /** document -> node -> when its release was heard. */
  private readonly releases = new Map<string, Map<string, number>>();
  /** node -> when it announced it holds no document at all (graceful leave). */
  private readonly releasedAll = new Map<string, number>();
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

  released(documentName: string, nodeId: string, now = Date.now()): void {
    let byNode = this.releases.get(documentName);
    if (!byNode) this.releases.set(documentName, (byNode = new Map()));
    byNode.set(nodeId, now);
    this.notify();
  }

  releasedEverything(nodeId: string, now = Date.now()): void {
    this.releasedAll.set(nodeId, now);
    this.notify();
  }

  /** Previous owners of the document (in the window) whose release is still missing. */
  pending(documentName: string, now = Date.now()): PendingRelease[] {
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
      if (deadline <= now || this.heardRelease(documentName, owner, streakStart)) return;
      pending.set(owner, Math.max(pending.get(owner) ?? 0, deadline));
    });
    return [...pending].map(([nodeId, deadline]) => ({ nodeId, deadline }));
  }

  /** Resolves on the next release or ring change, or after `ms`. */
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

  /** Whether `nodeId` announced the release of the document (or of everything) at or after `since`. */
  heardRelease(documentName: string, nodeId: string, since: number): boolean {
    const heard = [this.releases.get(documentName)?.get(nodeId), this.releasedAll.get(nodeId)];
    return heard.some((at) => at !== undefined && at >= since);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Rings and releases older than the window can no longer hold a load back. */
  private prune(now: number): void {
    const horizon = now - this.migrationTimeout;
    while (this.history.length > 1 && this.history[0]!.until !== undefined && this.history[0]!.until < horizon) this.history.shift();
    // A release is compared with ownership starts inside the window; keep it for twice the window.
    const keepFrom = now - 2 * this.migrationTimeout;
    for (const [documentName, byNode] of this.releases) {
      for (const [nodeId, at] of byNode) if (at < keepFrom) byNode.delete(nodeId);
      if (byNode.size === 0) this.releases.delete(documentName);
    }
    for (const [nodeId, at] of this.releasedAll) if (at < keepFrom) this.releasedAll.delete(nodeId);
  }
}
