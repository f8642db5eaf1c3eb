/**
 * How one key's turn ended: moved, gave up, to be tried again after a backoff (a failed attempt), back in the queue
 * at once (its group changed, or the batch was full), or no longer needed.
 */
export type Outcome = 'done' | 'failed' | 'retry' | 'requeue' | 'cancelled';

export interface SchedulerOptions<K> {
  /** Batches running at once. An urgent key starts at once, beyond this bound. */
  concurrency: number;
  /** Keys per batch at most. Default 1. */
  batchSize?: number;
  /** Keys of one batch share a group (e.g. the node they go to); undefined: the key cannot start now (see `regroup`). */
  group?: (key: K) => string | undefined;
  /** Runs one batch and resolves with each key's outcome, in order. A rejection counts as 'retry' for every key. */
  run: (keys: K[], group: string | undefined) => Promise<Outcome[]>;
  /** ms before the n-th retry of a key (n from 1). Default 50 ms doubling up to 2 s. */
  backoff?: (failures: number) => number;
}

/** Progress counters (Akka's rebalance rounds and SmartRoute's handovers report the same four). */
export interface SchedulerProgress {
  /** Keys waiting for their turn (or for a retry). */
  pending: number;
  /** Keys in a running batch. */
  moving: number;
  /** Keys whose turn ended 'done'. */
  done: number;
  /** Turns that ended 'failed' or 'retry'. */
  failed: number;
}

interface Entry<K> {
  key: K;
  /** Made only when someone waits for this key's turn (a scan queues thousands of keys nobody waits for). */
  waiting: { promise: Promise<Outcome>; resolve: (outcome: Outcome) => void } | undefined;
  failures: number;
  group: string | undefined | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const defaultBackoff = (failures: number) => Math.min(2000, 50 * 2 ** (failures - 1));

function waitFor<K>(entry: Entry<K>): Promise<Outcome> {
  if (!entry.waiting) {
    let resolve!: (outcome: Outcome) => void;
    const promise = new Promise<Outcome>((r) => (resolve = r));
    entry.waiting = { promise, resolve };
  }
  return entry.waiting.promise;
}

/**
 * A bounded handoff queue: keys wait their turn, at most `concurrency` batches run at once, an urgent key jumps
 * the queue (a request waits for it), failed turns are retried with backoff, and progress is counted. Generic
 * over what a key is and how a batch moves, so the HTTP engine and SmartRoute's document handovers can share it.
 */
export class HandoffScheduler<K> {
  /** Every key in progress, queued, running or waiting for a retry. Queued ones, in order, in `queue`. */
  private readonly entries = new Map<K, Entry<K>>();
  private readonly queue = new Map<K, Entry<K>>();
  private readonly running = new Set<K>();
  private batches = 0;
  private pumping = false;
  private done = 0;
  private failed = 0;
  private readonly idlers = new Set<() => void>();
  private readonly batchSize: number;
  private readonly backoff: (failures: number) => number;

  constructor(private readonly options: SchedulerOptions<K>) {
    this.batchSize = options.batchSize ?? 1;
    this.backoff = options.backoff ?? defaultBackoff;
  }

  /** Queues a key (idempotent while it is in progress); `urgent` starts it now. Resolves when its turn settles. */
  schedule(key: K, urgent = false): Promise<Outcome> {
    const entry = this.enqueue(key);
    if (urgent) this.startNow(entry);
    return waitFor(entry);
  }

  /** Queues a key without waiting for it (idempotent while it is in progress). */
  add(key: K): void {
    this.enqueue(key);
  }

  private enqueue(key: K): Entry<K> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { key, waiting: undefined, failures: 0, group: null, timer: undefined };
      this.entries.set(key, entry);
      this.queue.set(key, entry);
      this.pumpSoon();
    }
    return entry;
  }

  /** Drops a key that is not running (queued or waiting for a retry); its turn settles 'cancelled'. */
  cancel(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.running.has(key)) return false;
    clearTimeout(entry.timer);
    this.queue.delete(key);
    this.finish(entry, 'cancelled');
    return true;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Every key in progress. */
  keys(): K[] {
    return [...this.entries.keys()];
  }

  isRunning(key: K): boolean {
    return this.running.has(key);
  }

  /** Resolves when the key's turn settles (at once when it is not in progress). */
  settled(key: K): Promise<Outcome | undefined> {
    const entry = this.entries.get(key);
    return entry ? waitFor(entry) : Promise.resolve(undefined);
  }

  /** Groups may have changed (the ring moved): they are computed again and waiting keys start. */
  regroup(): void {
    for (const entry of this.entries.values()) entry.group = null;
    this.pumpSoon();
  }

  /** Resolves once nothing is in progress. */
  idle(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idlers.add(resolve));
  }

  get size(): number {
    return this.entries.size;
  }

  progress(): SchedulerProgress {
    return { pending: this.entries.size - this.running.size, moving: this.running.size, done: this.done, failed: this.failed };
  }

  private groupOf(entry: Entry<K>): string | undefined {
    if (entry.group === null) entry.group = this.options.group ? this.options.group(entry.key) : '';
    return entry.group;
  }

  private startNow(entry: Entry<K>): void {
    if (this.running.has(entry.key)) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.queue.delete(entry.key);
    entry.group = null;
    void this.runBatch([entry], this.groupOf(entry), false);
  }

  /** Keys scheduled in one go (a scan after a ring change) fill batches together. */
  private pumpSoon(): void {
    if (this.pumping) return;
    this.pumping = true;
    queueMicrotask(() => {
      this.pumping = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.batches < this.options.concurrency && this.queue.size > 0) {
      let group: string | undefined;
      const batch: Entry<K>[] = [];
      for (const entry of this.queue.values()) {
        const g = this.groupOf(entry);
        if (g === undefined || (batch.length > 0 && g !== group)) continue;
        group = g;
        batch.push(entry);
        if (batch.length === this.batchSize) break;
      }
      if (batch.length === 0) return; // every queued key waits for a group
      for (const entry of batch) this.queue.delete(entry.key);
      void this.runBatch(batch, group, true);
    }
  }

  private async runBatch(batch: Entry<K>[], group: string | undefined, counted: boolean): Promise<void> {
    if (counted) this.batches++;
    for (const entry of batch) this.running.add(entry.key);
    let outcomes: Outcome[];
    try {
      outcomes = await this.options.run(
        batch.map((entry) => entry.key),
        group,
      );
    } catch {
      outcomes = batch.map(() => 'retry');
    }
    if (counted) this.batches--;
    batch.forEach((entry, i) => {
      this.running.delete(entry.key);
      const outcome = outcomes[i] ?? 'retry';
      if (outcome === 'requeue') {
        entry.group = null;
        this.queue.set(entry.key, entry);
        return;
      }
      if (outcome !== 'retry') return this.finish(entry, outcome);
      this.failed++;
      entry.group = null;
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        if (this.entries.get(entry.key) !== entry) return;
        this.queue.set(entry.key, entry);
        this.pump();
      }, this.backoff(++entry.failures));
      entry.timer.unref?.();
    });
    this.pump();
  }

  private finish(entry: Entry<K>, outcome: Outcome): void {
    if (outcome === 'done') this.done++;
    else if (outcome === 'failed') this.failed++;
    this.entries.delete(entry.key);
    entry.waiting?.resolve(outcome);
    if (this.entries.size === 0) {
      for (const idler of [...this.idlers]) idler();
      this.idlers.clear();
    }
  }
}
