import type { ClusterMessage, Membership } from '@ringroute/ring-core';
import { applyUpdate, encodeStateAsUpdate, encodeStateVector } from 'yjs';
import { closeConnections, sameVector, unloadDocument, type DocumentLike, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ResolvedOptions } from '../options/index.js';
import type { SmartRouteCounters } from '../smart-route/counters.js';
import type { Log } from '../smart-route/log.js';

/** A stale node's changes to a document, for its current owner to merge; and the owner's receipt. */
export const CHANGES = 'ringroute:hocuspocus:changes';
export const CHANGES_MERGED = 'ringroute:hocuspocus:changes-merged';

export interface FenceContext {
  readonly config: ResolvedOptions;
  readonly counters: SmartRouteCounters;
  readonly log: Log;
  debug(message: string): void;
  instance(): HocuspocusLike | undefined;
  membership(): Membership | undefined;
  /** The document's owner by the current ring (undefined: nobody). */
  owner(documentName: string): string | undefined;
  /** The close reason for the document's clients (the redirect hint). */
  refusalReason(documentName: string): string;
  broadcast(type: string, data: unknown): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const clock = () => performance.now();

/**
 * Merge-safe ownership. A node holds its documents on a lease: its heartbeats keep it in the ring, and the others
 * declare it dead (and load its documents) only after 2 x failureTimeout of silence. A process that stalled (a
 * pause, a GC, SIGSTOP) may have lost that lease without knowing it, so after a stall it catches up with Redis
 * before it applies a message or stores. The fencing token is the membership itself: a node that finds it was
 * removed treats every document it still holds as stale. A stale document is never stored or served again; the
 * changes it has beyond its last confirmed store are shipped to the current owner as a Yjs update and merged there
 * (a CRDT merge: nothing is overwritten), then it is unloaded.
 */
export class Fence {
  private lastTick = clock();
  private stalled = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private confirming: Promise<void> | undefined;
  private readonly stale = new Map<string, Promise<void>>();
  /** State vector of each document as last loaded or stored: what the store holds for sure. */
  private readonly stored = new Map<string, Uint8Array>();
  private readonly pendingStores = new Map<string, Uint8Array>();
  private readonly receipts = new Map<string, () => void>();

  constructor(private readonly context: FenceContext) {}

  start(): void {
    const period = Math.max(10, this.context.config.failureTimeout / 4);
    this.timer = setInterval(() => {
      const now = clock();
      if (now - this.lastTick > this.slack) this.stalled = true;
      this.lastTick = now;
    }, period);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Longer than this between two ticks, and the lease may have run out meanwhile. */
  private get slack(): number {
    return this.context.config.failureTimeout / 2;
  }

  /**
   * Resolves once this node may act on its ring: at once while its lease is fresh; after a stall, once the
   * membership has caught up with Redis (which marks everything stale if this node was declared dead meanwhile).
   */
  async confirm(): Promise<void> {
    if (!this.stalled && clock() - this.lastTick <= this.slack) return;
    this.confirming ??= (async () => {
      const membership = this.context.membership() as (Membership & { sync?: () => Promise<void> }) | undefined;
      await membership?.sync?.();
      this.stalled = false;
      this.lastTick = clock();
    })().finally(() => (this.confirming = undefined));
    await this.confirming;
  }

  isStale(documentName: string): boolean {
    return this.stale.has(documentName);
  }

  /** Resolves when the document is no longer held stale here (unloaded; its changes are on their way). */
  async recovered(documentName: string): Promise<void> {
    await this.stale.get(documentName)?.catch(() => undefined);
  }

  loaded(document: DocumentLike): void {
    this.stored.set(document.name, encodeStateVector(document));
  }

  /** Before a store: what it is about to write (confirmed by `storeSucceeded`). */
  storing(document: DocumentLike): void {
    this.pendingStores.set(document.name, encodeStateVector(document));
  }

  storeSucceeded(documentName: string): void {
    const vector = this.pendingStores.get(documentName);
    if (vector) this.stored.set(documentName, vector);
    this.pendingStores.delete(documentName);
  }

  unloaded(documentName: string): void {
    if (this.stale.has(documentName)) return;
    this.stored.delete(documentName);
    this.pendingStores.delete(documentName);
  }

  /** This node was removed from the ring while it held documents: every one of them is stale. */
  lostLease(): void {
    const instance = this.context.instance();
    if (!instance) return;
    for (const documentName of new Set([...instance.documents.keys(), ...instance.loadingDocuments.keys()])) {
      if (this.stale.has(documentName)) continue;
      this.context.counters.staleDocuments++;
      const dropped = this.drop(instance, documentName);
      this.stale.set(
        documentName,
        dropped.then(() => undefined),
      );
      dropped
        .then((changes) => changes && this.deliver(instance, documentName, changes))
        .catch((error: unknown) =>
          this.context.log.warn({ err: error, documentName }, "ringroute: could not ship a stale document's changes"),
        );
    }
    this.context.log.warn(
      { node: this.context.config.nodeId, documents: this.stale.size },
      'ringroute: this node was declared dead; shipping what it held',
    );
  }

  /** Takes the stale document's unstored changes (undefined: none), moves its clients away and unloads it. */
  private async drop(instance: HocuspocusLike, documentName: string): Promise<Uint8Array | undefined> {
    try {
      await instance.loadingDocuments.get(documentName)?.catch(() => undefined);
      const document = instance.documents.get(documentName);
      if (!document) return undefined;
      // Stale documents take no more messages, so the changes are final now.
      const base = this.stored.get(documentName);
      const changes = base && sameVector(base, encodeStateVector(document)) ? undefined : encodeStateAsUpdate(document, base);
      await closeConnections(document, { code: 4421, reason: this.context.refusalReason(documentName) });
      const deadline = Date.now() + this.context.config.migrationTimeout;
      while (!(await unloadDocument(instance, document))) {
        if (Date.now() > deadline) throw new Error('the stale document is still in use');
        await sleep(50);
      }
      return changes;
    } finally {
      this.stale.delete(documentName);
      this.stored.delete(documentName);
    }
  }

  /**
   * Hands the changes to the document's current owner (this node again, or another one) until it merged them. The
   * changes may exist nowhere else (their client may be gone), so this goes on for as long as the node runs.
   */
  private async deliver(instance: HocuspocusLike, documentName: string, changes: Uint8Array): Promise<void> {
    this.context.debug(`${documentName}: shipping ${changes.length} bytes of changes to its owner`);
    const warnAt = Date.now() + this.context.config.migrationTimeout;
    for (let attempt = 0; !this.stopped; attempt++) {
      const owner = this.context.owner(documentName);
      if (owner === this.context.config.nodeId) return await this.merge(instance, documentName, changes);
      if (owner !== undefined && (await this.ship(documentName, changes, owner))) return;
      if (Date.now() > warnAt && attempt % 10 === 0)
        this.context.log.warn({ documentName, owner }, "ringroute: a stale document's changes are not merged yet; still trying");
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
    throw new Error('the node stopped before an owner merged the changes');
  }

  /** Sends the changes to `owner`; true once it confirmed the merge. */
  private async ship(documentName: string, changes: Uint8Array, owner: string): Promise<boolean> {
    const id = `${this.context.config.nodeId}:${documentName}:${Math.random().toString(36).slice(2)}`;
    const merged = new Promise<boolean>((resolve) => {
      // The owner may first wait up to migrationTimeout for a handover before it loads the document and merges.
      const { failureTimeout, migrationTimeout } = this.context.config;
      const timer = setTimeout(() => resolve(false), failureTimeout + migrationTimeout);
      timer.unref?.(); // a node that stops meanwhile need not wait for it
      this.receipts.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    await this.context.broadcast(CHANGES, { documentName, nodeId: owner, id, update: Buffer.from(changes).toString('base64') });
    const done = await merged;
    this.receipts.delete(id);
    if (done) this.context.counters.shipped++;
    return done;
  }

  /** Loads the document as its owner (waiting for any handover) and applies the changes; Hocuspocus stores them. */
  private async merge(instance: HocuspocusLike, documentName: string, changes: Uint8Array): Promise<void> {
    const connection = await instance.openDirectConnection(documentName);
    try {
      await connection.transact((document) => applyUpdate(document, changes));
    } finally {
      await connection.disconnect();
    }
    this.context.counters.merged++;
  }

  /** A stale node's changes for a document this node owns, or the receipt for ours. */
  onMessage({ type, data }: ClusterMessage): void {
    if (data === null || typeof data !== 'object') return;
    const { documentName, nodeId, id, update } = data as Record<string, unknown>;
    if (typeof id !== 'string' || typeof documentName !== 'string') return;
    if (type === CHANGES_MERGED) return this.receipts.get(id)?.();
    if (type !== CHANGES || nodeId !== this.context.config.nodeId || typeof update !== 'string') return;
    const instance = this.context.instance();
    if (!instance || this.context.owner(documentName) !== this.context.config.nodeId) return; // the sender retries
    void this.merge(instance, documentName, new Uint8Array(Buffer.from(update, 'base64')))
      .then(() => this.context.broadcast(CHANGES_MERGED, { documentName, id }))
      .catch((error: unknown) => this.context.log.warn({ err: error, documentName }, "ringroute: could not merge a stale node's changes"));
  }
}
