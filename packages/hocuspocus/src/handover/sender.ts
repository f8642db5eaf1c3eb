import { closeConnections, storeDocument, unloadDocument, type DocumentLike, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ResolvedOptions } from '../options/index.js';
import type { SmartRouteCounters } from '../smart-route/counters.js';
import type { Log } from '../smart-route/log.js';

/** Handover progress for `GET /api/routes/stats` (`handovers`). */
export interface HandoverProgress {
  /** Documents waiting for a free slot (they are still served here meanwhile). */
  pending: number;
  /** Documents being handed over now (at most maxConcurrentHandovers, plus ones a new owner is waiting for). */
  moving: number;
  /** Loaded documents this node handed over (stored, unloaded, announced). */
  done: number;
  /** Handovers that could not complete (the store kept failing); the document stays here. */
  failed: number;
}

/** What the old owner's side needs from the rest of SmartRoute. */
export interface SenderContext {
  readonly config: ResolvedOptions;
  readonly counters: SmartRouteCounters;
  readonly log: Log;
  debug(message: string): void;
  instance(): HocuspocusLike | undefined;
  /** Whether the document stays: owned here again (the ring moved back before its turn), or stale (the fence ships it). */
  keeps(documentName: string): boolean;
  /** The close reason for the document's clients (the redirect hint). */
  refusalReason(documentName: string): string;
  /** Announces that this node holds the document no more. */
  announce(documentName: string): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The old owner's side of a handover: refuse the document, send its clients the hint and close their connections,
 * store until confirmed, unload, then announce it so the new owner may load it. At most maxConcurrentHandovers run
 * at once (a join moves many documents; each one waits its turn and is served here meanwhile), except when a new
 * owner is already waiting for the document.
 */
export class HandoverSender {
  /** Every handover in progress, queued or moving. */
  private readonly handovers = new Map<string, Promise<void>>();
  /** Queued handovers, in order, and what starts each. */
  private readonly queued = new Map<string, () => void>();
  private readonly moving = new Set<string>();
  /** Documents whose final store is confirmed: only these may be unloaded during their handover. */
  private readonly flushed = new Set<string>();
  private done = 0;
  private failed = 0;

  constructor(private readonly context: SenderContext) {}

  /** Whether the document is being handed over now (it accepts no connection and no update). */
  isMoving(documentName: string): boolean {
    return this.moving.has(documentName);
  }

  /** Whether the document waits for its turn to move (it is still served here meanwhile). */
  isQueued(documentName: string): boolean {
    return this.queued.has(documentName);
  }

  /** Whether a handover of the document is in progress, queued or moving. */
  isBusy(documentName: string): boolean {
    return this.handovers.has(documentName);
  }

  /** Whether Hocuspocus may unload the document (during a handover only once its final store is confirmed). */
  mayUnload(documentName: string): boolean {
    return !this.moving.has(documentName) || this.flushed.has(documentName);
  }

  /** Resolves when no handover of the document is in progress. */
  async settled(documentName: string): Promise<void> {
    await this.handovers.get(documentName);
  }

  /** Documents the instance has loaded or is loading. */
  held(): Set<string> {
    const instance = this.context.instance();
    return new Set(instance ? [...instance.documents.keys(), ...instance.loadingDocuments.keys()] : []);
  }

  /** Hands every held document over (leaving the cluster); resolves when no handover is in progress. */
  async handOverEverything(): Promise<void> {
    await Promise.all([...this.held()].map((documentName) => this.handOver(documentName)));
    await Promise.all([...this.handovers.values()]);
  }

  progress(): HandoverProgress {
    return { pending: this.queued.size, moving: this.moving.size, done: this.done, failed: this.failed };
  }

  /**
   * Hands a document over: idempotent while in progress; `urgent` (a new owner is waiting) skips the queue.
   * Never rejects (failures are counted and logged).
   */
  handOver(documentName: string, urgent = false): Promise<void> {
    const existing = this.handovers.get(documentName);
    if (existing) {
      if (urgent) this.start(documentName);
      return existing;
    }
    const turn = new Promise<void>((resolve) => this.queued.set(documentName, resolve));
    const handover = turn
      .then(() => this.run(documentName))
      .catch((error: unknown) => {
        this.failed++;
        this.context.log.warn({ err: error, documentName }, 'ringroute: could not hand the document over; it stays here');
      })
      .finally(() => {
        this.handovers.delete(documentName);
        this.moving.delete(documentName);
        this.flushed.delete(documentName);
        this.pump();
      });
    this.handovers.set(documentName, handover);
    if (urgent) this.start(documentName);
    else this.pump();
    return handover;
  }

  private start(documentName: string): void {
    const begin = this.queued.get(documentName);
    if (!begin) return;
    this.queued.delete(documentName);
    this.moving.add(documentName);
    begin();
  }

  private pump(): void {
    for (const documentName of this.queued.keys()) {
      if (this.moving.size >= this.context.config.maxConcurrentHandovers) return;
      this.start(documentName);
    }
  }

  private async run(documentName: string): Promise<void> {
    const instance = this.context.instance()!;
    if (this.context.keeps(documentName)) return;
    await instance.loadingDocuments.get(documentName)?.catch(() => undefined);
    const document = instance.documents.get(documentName);
    if (document) {
      this.context.debug(`${documentName}: handing over`);
      await closeConnections(document, { code: 4421, reason: this.context.refusalReason(documentName) });
      await this.flush(instance, document);
      this.flushed.add(documentName);
      await this.unload(instance, document);
      this.done++;
    }
    await this.context.announce(documentName);
    this.context.debug(`${documentName}: handed over`);
  }

  /** Stores until a store succeeds, retrying with backoff for up to migrationTimeout. */
  private async flush(instance: HocuspocusLike, document: DocumentLike): Promise<void> {
    const deadline = Date.now() + this.context.config.migrationTimeout;
    for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await storeDocument(instance, document);
      } catch (error) {
        this.context.counters.storeFailures++;
        if (Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  /** Unloads once nothing holds the document (server-side direct connections may for a while). */
  private async unload(instance: HocuspocusLike, document: DocumentLike): Promise<void> {
    const deadline = Date.now() + this.context.config.migrationTimeout;
    while (!(await unloadDocument(instance, document))) {
      if (Date.now() > deadline) throw new Error('the document is still in use (direct connections?)');
      await sleep(50);
    }
  }
}
