import { idOf, ownerOf, type Context } from './context.js';
import { StateUnavailableError } from './errors.js';
import type { Push, PushAnswer, PushResult } from './frame.js';
import { persistKey } from './persist.js';
import type { Space } from './space.js';

/** How long an accepted transfer is remembered, so that its retry is answered 'accepted' again (ms). */
const REMEMBER = 10 * 60_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The new owner's side: takes pushed keys it owns, and before a key is first served here makes sure nobody else
 * still holds it: every node that may (the ledger's sources) is asked to hand it over now (a pull, which jumps
 * that node's queue). Only when none holds it does the key start from `persist` (a crash successor) or empty.
 */
export class Receiver {
  private readonly accepted = new Map<string, { transfer: string; at: number }>();

  constructor(private readonly context: Context) {}

  async push(push: Push): Promise<PushAnswer> {
    const { ledger, self, counters } = this.context;
    if (push.token > ledger.token) await this.context.sync();
    const results: PushResult[] = [];
    const now = Date.now();
    for (const { state, key, transfer, value } of push.entries) {
      const space = this.context.spaces.get(state);
      const id = idOf(state, key);
      if (!space) results.push('unknown-state');
      else if (ownerOf(ledger.ring, key) !== self) results.push('not-owner');
      else if (ledger.fenced(push.from, push.token)) results.push('fenced');
      else if (space.established(key)) results.push(this.accepted.get(id)?.transfer === transfer ? 'accepted' : 'conflict');
      else {
        const imported = space.import(key, value);
        if (imported) await imported;
        this.accepted.delete(id); // re-inserted last: the map stays in time order for pruning
        this.accepted.set(id, { transfer, at: now });
        counters.received++;
        counters.receivedBytes += value.byteLength;
        this.context.emit('received', () => ({ state, key, from: push.from, bytes: value.byteLength }));
        results.push('accepted');
      }
    }
    for (const [id, { at }] of this.accepted) {
      if (at > now - REMEMBER) break;
      this.accepted.delete(id);
    }
    return { token: ledger.token, results };
  }

  /** Takes custody of a key this node owns (called inside the key's gate); throws StateUnavailableError. */
  async establish(space: Space, key: string): Promise<void> {
    if (space.established(key)) return;
    const { ledger, self, transport, options, counters } = this.context;
    const deadline = Date.now() + options.importTimeout;
    const cleared = new Set<string>();
    let pulled = false;
    for (let round = 0; ; round++) {
      if (ledger.behind) await this.context.sync();
      if (ownerOf(ledger.ring, key) !== self) throw notOwner(key);
      const sources = ledger.sources(key).filter((source) => !cleared.has(source.id));
      if (sources.length === 0) break;
      pulled = true;
      const token = ledger.token;
      const answers = await Promise.all(sources.map((source) => transport.pull(source.url, token, space.name, key)));
      let resync = false;
      answers.forEach((answer, i) => {
        const { id } = sources[i]!;
        if ('failure' in answer) {
          // A node gone for good, or one that keeps no owned state, holds nothing; a silent member may (it waits).
          const gone = answer.failure === 'stateless' || (answer.failure === 'unreachable' && !ledger.ring?.node(id));
          if (gone) {
            ledger.forget(id, answer.failure === 'stateless');
            cleared.add(id);
          }
          return;
        }
        if (answer.token > token || answer.result === 'owner') resync = true;
        else cleared.add(id);
      });
      if (space.established(key)) {
        counters.pulled++;
        return;
      }
      if (resync) await this.context.sync();
      if (Date.now() > deadline)
        throw new StateUnavailableError(key, 'import-timeout', "this key's previous owner did not hand it over in time");
      // A source that did not answer (or a ring that did not change on catching up) is asked again after a pause.
      if (sources.some((source) => !cleared.has(source.id)) && !(resync && round === 0)) await sleep(Math.min(50 * 2 ** round, 500));
    }
    await this.start(space, key, pulled);
  }

  /** Nobody holds the key: it starts from the durable copy, or empty (lost with its crashed owner, if it had one). */
  private async start(space: Space, key: string, pulled: boolean): Promise<void> {
    const { ledger, persistence, counters } = this.context;
    if (persistence) {
      const { value, fenced } = await persistence.claim(persistKey(space.name, key), ledger.token);
      if (fenced) {
        await this.context.sync();
        throw notOwner(key);
      }
      if (value === null) space.empty.add(key);
      else {
        await space.import(key, value);
        counters.loaded++;
      }
      return;
    }
    const owner = ledger.crashedOwner(key);
    if (owner !== undefined) {
      counters.startedEmpty++;
      this.context.emit('started-empty', () => ({ state: space.name, key, owner }));
    }
    // Remembered so that nobody is asked again while sources remain (and a lost key is counted once).
    if (owner !== undefined || pulled) space.empty.add(key);
  }
}

const notOwner = (key: string) =>
  new StateUnavailableError(key, 'not-owner', 'the ring changed: another node owns this key now (the request is tried again there)');
