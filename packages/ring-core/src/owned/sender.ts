import { randomBytes } from 'node:crypto';
import { idOf, ownerOf, splitId, type Context } from './context.js';
import type { PullResult, PushEntry } from './frame.js';
import { persistKey } from './persist.js';
import { HandoffScheduler, type Outcome } from './scheduler.js';

/** Room for a transfer's JSON header per key (state, key, transfer id) beside its value. */
const ENTRY_OVERHEAD = 96;

/**
 * The old owner's side: after every ring change, the keys this node holds but no longer owns are queued and pushed
 * to their new owner in batches (bounded), deleted here only once it confirmed them. A pull from the new owner makes
 * its key jump the queue. A key waiting or moving is served by nobody (its new owner holds requests until it
 * arrives), so no request ever sees it on both sides.
 */
export class Sender {
  readonly scheduler: HandoffScheduler<string>;
  /** Per key being moved: one transfer id for all its attempts (the receiver recognises a retry). */
  private readonly transfers = new Map<string, string>();
  /** Transfer ids are this prefix and a count: unique across nodes and restarts (48 random bits), short on the wire. */
  private readonly transferPrefix = `${randomBytes(6).toString('base64url')}.`;
  private transferCount = 0;
  /** Set when this node learns it lost its keys: nothing more is sent. */
  fenced = false;

  constructor(private readonly context: Context) {
    const { options } = context;
    this.scheduler = new HandoffScheduler<string>({
      concurrency: options.maxConcurrentTransfers,
      batchSize: options.batchSize,
      group: (id) => {
        const owner = ownerOf(context.ledger.ring, splitId(id)[1]);
        return owner === context.self ? undefined : owner;
      },
      run: (ids, target) => this.run(ids, target!),
    });
  }

  /** After a ring change: queues held keys the ring gives to others; keys it gives back stay. */
  async scan(): Promise<void> {
    const { ledger, self, spaces } = this.context;
    for (const space of spaces.values()) {
      for (const key of await space.keys()) if (ownerOf(ledger.ring, key) !== self) this.scheduler.add(idOf(space.name, key));
      for (const key of space.empty) if (ownerOf(ledger.ring, key) !== self) space.empty.delete(key);
    }
    for (const id of this.scheduler.keys())
      if (ownerOf(ledger.ring, splitId(id)[1]) === self && this.scheduler.cancel(id)) this.transfers.delete(id);
    this.scheduler.regroup();
  }

  /** A new owner asks for a key now: it jumps the queue; resolves once it is handed over (or not held here). */
  async pulled(state: string, key: string): Promise<PullResult> {
    const { ledger, self } = this.context;
    if (ownerOf(ledger.ring, key) === self) return 'owner';
    const id = idOf(state, key);
    const space = this.context.spaces.get(state);
    if (!this.scheduler.has(id) && !space?.held(key)) return 'not-held';
    const outcome = await this.scheduler.schedule(id, true);
    if (outcome === 'done') return 'moved';
    return ownerOf(ledger.ring, key) === self ? 'owner' : 'not-held';
  }

  /** This node lost its keys (declared failed): every copy is discarded, never sent or written back. */
  async dropAll(): Promise<void> {
    this.fenced = true;
    for (const id of this.scheduler.keys()) this.scheduler.cancel(id);
    this.transfers.clear();
    for (const space of this.context.spaces.values())
      for (const key of await space.keys()) {
        await space.remove(key);
        this.dropped(space.name, key, 'fenced');
      }
  }

  private dropped(state: string, key: string, reason: 'fenced' | 'conflict'): void {
    this.context.counters.dropped++;
    this.context.emit('dropped', () => ({ state, key, reason }));
  }

  private async run(ids: string[], target: string): Promise<Outcome[]> {
    const outcomes = await this.attempt(ids, target);
    ids.forEach((id, i) => outcomes[i] !== 'retry' && outcomes[i] !== 'requeue' && this.transfers.delete(id));
    return outcomes;
  }

  /** One batch to `target`: export (after the operations running on each key), flush, push, then delete what it took. */
  private async attempt(ids: string[], target: string): Promise<Outcome[]> {
    const { ledger, transport, persistence, options, counters } = this.context;
    const outcomes: Outcome[] = ids.map(() => 'requeue');
    const url = ledger.ring?.node(target)?.url;
    if (this.fenced) return ids.map(() => 'cancelled');
    if (url === undefined) return ids.map(() => 'retry');
    const entries: PushEntry[] = [];
    const at: number[] = [];
    let bytes = 0;
    for (const [i, id] of ids.entries()) {
      const [state, key] = splitId(id);
      const space = this.context.spaces.get(state);
      const owner = ownerOf(ledger.ring, key);
      if (owner !== target) {
        outcomes[i] = owner === this.context.self ? 'cancelled' : 'requeue';
        continue;
      }
      // After the operations running on the key (none, mostly: then without a turn through the gate, or a promise).
      const exported =
        space === undefined ? undefined : space.gate.busy(key) ? space.gate.run(key, () => space.export(key)) : space.export(key);
      const value = exported instanceof Promise ? await exported : exported;
      if (value === undefined) {
        outcomes[i] = 'cancelled';
        continue;
      }
      if (value.byteLength > options.maxValueBytes) {
        this.context.log.error(
          { state, key, bytes: value.byteLength },
          'ringroute: a key is larger than state.maxValueBytes; it cannot move',
        );
        outcomes[i] = 'failed';
        continue;
      }
      // The rest waits for the next batch rather than exceed what the receiver takes.
      if (entries.length > 0 && bytes + value.byteLength + ENTRY_OVERHEAD + key.length > options.maxBatchBytes - 4096) break;
      bytes += value.byteLength + ENTRY_OVERHEAD + key.length;
      let transfer = this.transfers.get(id);
      if (transfer === undefined) this.transfers.set(id, (transfer = this.transferPrefix + (++this.transferCount).toString(36)));
      entries.push({ state, key, transfer, value });
      at.push(i);
    }
    if (entries.length === 0) return outcomes;
    if (persistence) await persistence.flush(entries.map((e) => persistKey(e.state, e.key)));
    if (this.fenced) return ids.map(() => 'cancelled');
    let answer;
    try {
      answer = await transport.push(url, ledger.token, entries);
    } catch (error) {
      this.context.log.debug({ err: error, target, keys: entries.length }, 'ringroute: a handoff transfer failed; it is retried');
      for (const i of at) outcomes[i] = 'retry';
      return outcomes;
    }
    if (answer.token > ledger.token) await this.context.sync();
    for (const [n, entry] of entries.entries()) {
      const i = at[n]!;
      const result = answer.results[n]!;
      const space = this.context.spaces.get(entry.state)!;
      if (result === 'not-owner' || result === 'unknown-state') {
        outcomes[i] = 'retry';
        continue;
      }
      const removed = space.remove(entry.key);
      if (removed) await removed;
      if (result === 'accepted') {
        counters.bytes += entry.value.byteLength;
        this.context.emit('moved', () => ({ state: entry.state, key: entry.key, to: target, bytes: entry.value.byteLength }));
        outcomes[i] = 'done';
      } else {
        // The receiver already had the key (a newer owner took it) or knows this node lost it: this copy is stale.
        this.dropped(entry.state, entry.key, result === 'fenced' ? 'fenced' : 'conflict');
        outcomes[i] = 'cancelled';
      }
    }
    return outcomes;
  }
}
