import { checkKnownOptions, checkNumber, checkOneOf, fail } from '../errors.js';
import { SILENT_LOGGER, type RingRouteLogger } from '../log.js';
import { checkEntry } from './entries.js';
import type { PersistEntry, PersistStore } from './types.js';

/** The `persist` option: where owned state keeps its durable copy, and when it is written there. */
export interface PersistOptions {
  /** `redisPersist(...)` from `@ringroute/ring-core/redis`, `postgresPersist(...)` from `@ringroute/ring-core/postgres`, or your own. */
  store: PersistStore;
  /**
   * `'through'`: a write resolves once the store has it (acknowledged writes survive a crash). `'behind'`: a write
   * resolves at once; only the latest value of each key is stored, within `flushWithin`.
   */
  write: 'through' | 'behind';
  /** `'behind'` only: the longest a write waits before it is sent to the store (ms). Default 100. */
  flushWithin?: number;
  /** The most entries one store call carries. Default 100. */
  batch?: number;
}

export interface PersisterHooks {
  /** A store refused a write for `key`: a newer owner holds it. May be called more than once for a key. */
  onFenced?: (key: string) => void;
  logger?: RingRouteLogger;
  /** The option's name in errors (its fields are named `<option>.write`, ...). Default 'persist'. */
  option?: string;
}

export interface PersisterStats {
  /** write() calls. */
  writes: number;
  /** Writes that replaced a value not yet sent, so the store never saw it. */
  coalesced: number;
  /** Store write calls (batches). */
  flushes: number;
  /** The store's round trips (`store.commands`). */
  commands: number;
  /** Entries the store refused (a newer owner's token). */
  fenced: number;
  /** Store write calls that failed (a 'behind' batch is tried again). */
  errors: number;
  /** Keys whose latest value the store does not have yet. */
  pending: number;
}

interface Settled {
  promise: Promise<boolean>;
  resolve(applied: boolean): void;
  reject(error: unknown): void;
}

/** The latest unsent value of a key; `due` once it should go out; `settled` once somebody waits for it. */
interface Pending extends PersistEntry {
  due: boolean;
  settled: Settled | undefined;
}

const FLUSH_WITHIN = 100;
const BATCH = 100;
/** The longest pause between tries while the store fails (ms). */
const MAX_RETRY_DELAY = 5000;

/**
 * Writes owned state to a PersistStore. One batch is in flight at a time, which keeps each key's writes in order
 * on any store and gathers whatever arrives meanwhile into the next batch; a key is in at most one batch.
 */
export class Persister {
  private readonly store: PersistStore;
  private readonly mode: 'through' | 'behind';
  private readonly flushWithin: number;
  private readonly batch: number;
  private readonly onFenced: (key: string) => void;
  private readonly logger: RingRouteLogger;
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, Pending>();
  private pumping = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Consecutive failed store writes: the next 'behind' try waits longer. */
  private failures = 0;
  private closing: Promise<void> | undefined;
  private readonly counts = { writes: 0, coalesced: 0, flushes: 0, fenced: 0, errors: 0 };

  constructor(options: PersistOptions, hooks: PersisterHooks = {}) {
    const option = hooks.option ?? 'persist';
    if (options === null || typeof options !== 'object') fail(option, "must be an object: { store, write: 'through' | 'behind' }");
    checkKnownOptions(options, ['store', 'write', 'flushWithin', 'batch'], `${option}.`);
    const { store } = options;
    if (store === null || typeof store !== 'object' || (['claim', 'write', 'close'] as const).some((m) => typeof store[m] !== 'function'))
      fail(`${option}.store`, 'must be a PersistStore (claim, write, close), e.g. redisPersist() or postgresPersist()');
    this.store = store;
    this.mode = checkOneOf(`${option}.write`, options.write, ['through', 'behind'] as const);
    if (options.flushWithin !== undefined && this.mode === 'through') fail(`${option}.flushWithin`, "applies to write: 'behind' only");
    this.flushWithin =
      options.flushWithin === undefined
        ? FLUSH_WITHIN
        : checkNumber(`${option}.flushWithin`, options.flushWithin, { min: 1, max: 3_600_000 });
    this.batch =
      options.batch === undefined ? BATCH : checkNumber(`${option}.batch`, options.batch, { min: 1, max: 10_000, integer: true });
    this.onFenced = hooks.onFenced ?? (() => {});
    this.logger = hooks.logger ?? SILENT_LOGGER;
  }

  /** The first use of a key by its new owner: its older writes go out first (they would be fenced after the claim). */
  async claim(key: string, token: number): Promise<{ value: Uint8Array | null; fenced: boolean }> {
    await this.flush([key]);
    return this.store.claim(key, token);
  }

  /**
   * Stores `value` (null deletes it) under the ownership `token`. 'through': resolves once the store applied it
   * (false: fenced). 'behind': resolves true at once.
   */
  write(key: string, value: Uint8Array | null, token: number): Promise<boolean> {
    if (this.closing) throw new Error('the persister is closed');
    checkEntry({ key, value, token });
    this.counts.writes++;
    let entry = this.pending.get(key);
    if (entry) {
      this.counts.coalesced++;
      entry.value = value;
      entry.token = token;
    } else {
      entry = { key, value, token, due: false, settled: undefined };
      this.pending.set(key, entry);
    }
    if (this.mode === 'behind') {
      this.arm();
      return Promise.resolve(true);
    }
    entry.due = true;
    this.kick();
    return settled(entry).promise;
  }

  /** Resolves once the latest values of `keys` (default: every key) are in the store or fenced; rejects if the store failed. */
  async flush(keys?: Iterable<string>): Promise<void> {
    const waits: Promise<boolean>[] = [];
    const wait = (entry: Pending | undefined, due: boolean) => {
      if (!entry) return;
      if (due) entry.due = true;
      waits.push(settled(entry).promise);
    };
    for (const key of keys ?? new Set([...this.pending.keys(), ...this.inFlight.keys()])) {
      wait(this.inFlight.get(key), false);
      wait(this.pending.get(key), true);
    }
    if (waits.length === 0) return;
    this.kick();
    await Promise.all(waits);
  }

  stats(): PersisterStats {
    let pending = this.pending.size;
    for (const key of this.inFlight.keys()) if (!this.pending.has(key)) pending++;
    return { ...this.counts, commands: this.store.commands, pending };
  }

  /** Flushes every key, then closes the store (also when the flush failed). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.timer);
      try {
        await this.flush();
      } finally {
        await this.store.close();
      }
    })();
    return this.closing;
  }

  /** 'behind': makes every pending key due within flushWithin (longer while the store fails), unless a timer runs. */
  private arm(): void {
    if (this.timer !== undefined || this.closing) return;
    const delay = Math.min(this.flushWithin * 2 ** this.failures, Math.max(this.flushWithin, MAX_RETRY_DELAY));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const entry of this.pending.values()) entry.due = true;
      this.kick();
    }, delay);
  }

  /** Starts the pump (in a microtask, so writes of the same turn share a batch) unless it runs. */
  private kick(): void {
    if (this.pumping) return;
    this.pumping = true;
    queueMicrotask(() => void this.pump());
  }

  private async pump(): Promise<void> {
    try {
      for (let batch = this.takeDue(); batch.length > 0; batch = this.takeDue()) await this.send(batch);
    } finally {
      this.pumping = false;
    }
  }

  private takeDue(): Pending[] {
    const batch: Pending[] = [];
    for (const entry of this.pending.values()) {
      if (!entry.due) continue;
      this.pending.delete(entry.key);
      this.inFlight.set(entry.key, entry);
      batch.push(entry);
      if (batch.length === this.batch) break;
    }
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    this.counts.flushes++;
    let applied: boolean[];
    try {
      applied = await this.store.write(batch.map(({ key, value, token }) => ({ key, value, token })));
      if (applied.length !== batch.length) throw new Error(`the store answered ${applied.length} results for ${batch.length} entries`);
    } catch (error) {
      this.failed(batch, error);
      return;
    } finally {
      for (const entry of batch) this.inFlight.delete(entry.key);
    }
    this.failures = 0;
    batch.forEach((entry, i) => {
      entry.settled?.resolve(applied[i]!);
      if (!applied[i]) this.fenced(entry.key);
    });
  }

  private fenced(key: string): void {
    this.counts.fenced++;
    try {
      this.onFenced(key);
    } catch (error) {
      this.logger.error({ err: error, key }, 'persist: onFenced threw');
    }
  }

  /** 'through' callers see the error; 'behind' keeps each value (unless a newer one came) and tries again later. */
  private failed(batch: Pending[], error: unknown): void {
    this.counts.errors++;
    this.failures++;
    this.logger.warn({ err: error, keys: batch.length }, 'persist: store write failed');
    for (const entry of batch) {
      entry.settled?.reject(error);
      if (this.mode === 'through' || this.pending.has(entry.key)) continue;
      this.pending.set(entry.key, { ...entry, due: false, settled: undefined });
    }
    if (this.mode === 'behind') this.arm();
  }
}

function settled(entry: Pending): Settled {
  if (entry.settled) return entry.settled;
  let resolve!: (applied: boolean) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<boolean>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // a 'behind' failure nobody waits for is logged, not unhandled
  entry.settled = { promise, resolve, reject };
  return entry.settled;
}
