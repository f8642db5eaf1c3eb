import type { LeaveReason } from '../membership/types.js';
import type { Ring, RingNode } from '../types.js';

/** A node that may still hold a key this node now owns: it is asked (pulled) before the key is served here. */
export interface Source {
  id: string;
  url: string;
}

interface Observed {
  token: number;
  ring: Ring;
}

/** Rings kept at most (older ones only ever add sources, so dropping them is safe). */
const MAX_HISTORY = 128;

/**
 * Who may still hold a key, from this node's point of view. Every node announces "settled at token t" once it holds
 * nothing that ring t gives to others; a node that owned a key without a break since token t0 needs to ask only the
 * nodes not settled at t0 or later. Nodes that left without handing over (drained by an operator: they are still
 * running and push what they held) are asked too until they settle; nodes declared failed are never waited for: their
 * keys come from `persist`, or start empty (counted). The history also tells which keys a crashed node owned.
 */
export class Ledger {
  /** Rings this node acted on, oldest first; the last is the current one. */
  private readonly history: Observed[] = [];
  private readonly settledAt = new Map<string, number>();
  /** Nodes removed while running (drained): they push what they held, then announce it. */
  private readonly departed = new Map<string, { url: string | undefined; until: number }>();
  /** Nodes declared failed (removed, or dead), with the token of that ring: their state is gone. */
  private readonly failures = new Map<string, { token: number; until: number }>();
  /** Nodes that answered that they keep no owned state at all. */
  private readonly stateless = new Set<string>();
  private highest = -1;

  constructor(
    private readonly self: string,
    /** How long departed and failed nodes are remembered (ms). */
    private readonly window: number,
  ) {}

  get token(): number {
    return this.history.at(-1)?.token ?? -1;
  }

  get ring(): Ring | undefined {
    return this.history.at(-1)?.ring;
  }

  /** Records the ring this node acts on from now on. */
  observe(ring: Ring, token: number): void {
    this.history.push({ token, ring });
    this.prune();
  }

  /** A node left the ring: drained ones are still asked until they settle; failed ones are remembered as crashed. */
  left(node: RingNode, reason: LeaveReason, now = Date.now()): void {
    if (node.id === this.self) return;
    if (reason === 'removed' || reason === 'resync') this.departed.set(node.id, { url: node.url, until: now + this.window });
    if (reason === 'failed') this.failures.set(node.id, { token: this.token, until: now + this.window });
  }

  /** A member was declared dead (its keys went to the next node), or came back. */
  status(node: RingNode, now = Date.now()): void {
    if (node.status === 'dead') this.failures.set(node.id, { token: this.token, until: now + this.window });
    else if (node.status === 'alive') this.failures.delete(node.id);
  }

  joined(node: RingNode): void {
    this.failures.delete(node.id);
    this.departed.delete(node.id);
  }

  /** `id` announced that it holds nothing its ring at `token` gives to others. */
  settled(id: string, token: number): void {
    if (token > (this.settledAt.get(id) ?? -1)) this.settledAt.set(id, token);
    if (token > this.highest) this.highest = token;
    if (this.departed.has(id) && token >= this.token) this.departed.delete(id);
  }

  /** `id` has no owned state (its endpoint answered 404), or a departed node is gone for good. */
  forget(id: string, stateless: boolean): void {
    if (stateless) this.stateless.add(id);
    this.departed.delete(id);
  }

  /** Whether another node announced a newer ring than this node's: it should catch up before acting. */
  get behind(): boolean {
    return this.highest > this.token;
  }

  /** The token of a failure of `id` that its own `token` predates (a paused node that never learnt it failed). */
  fenced(id: string, token: number): boolean {
    const failure = this.failures.get(id);
    return failure !== undefined && token < failure.token;
  }

  /**
   * The token since which this node has owned `key` without a break (in the rings it saw, which must follow each
   * other: a gap means rings it never saw, where anyone may have owned the key).
   */
  ownedSince(key: string): number {
    let since = Infinity;
    for (let i = this.history.length - 1; i >= 0; i--) {
      const { token, ring } = this.history[i]!;
      if (ring.owner(key)?.id !== this.self) break;
      since = token;
      if (i > 0 && this.history[i - 1]!.token !== token - 1) break;
    }
    return since;
  }

  /** Nodes that may still hold `key` (this node owns it by the current ring). */
  sources(key: string, now = Date.now()): Source[] {
    const ring = this.ring;
    if (!ring) return [];
    const since = this.ownedSince(key);
    const out: Source[] = [];
    const unsettled = (id: string) => (this.settledAt.get(id) ?? -1) < since && !this.stateless.has(id);
    for (const node of ring.nodes)
      if (node.id !== this.self && node.url !== undefined && node.status !== 'dead' && unsettled(node.id))
        out.push({ id: node.id, url: node.url });
    for (const [id, { url, until }] of this.departed)
      if (until > now && url !== undefined && !ring.node(id) && unsettled(id)) out.push({ id, url });
    return out;
  }

  /** The crashed node whose state for `key` was lost, if one owned it in a ring before it failed. */
  crashedOwner(key: string, now = Date.now()): string | undefined {
    if (this.failures.size === 0) return undefined;
    for (const { token, ring } of this.history) {
      const owner = ring.owner(key)?.id;
      const failure = owner === undefined ? undefined : this.failures.get(owner);
      if (failure && failure.until > now && token < failure.token) return owner;
    }
    return undefined;
  }

  private prune(now = Date.now()): void {
    for (const [id, { until }] of this.departed) if (until <= now) this.departed.delete(id);
    for (const [id, { until }] of this.failures) if (until <= now) this.failures.delete(id);
    // A ring every other node has settled past can no longer make anyone a source; failures still need theirs.
    let floor = Infinity;
    for (const node of this.ring?.nodes ?? []) if (node.id !== this.self) floor = Math.min(floor, this.settledAt.get(node.id) ?? -1);
    for (const id of this.departed.keys()) floor = Math.min(floor, this.settledAt.get(id) ?? -1);
    for (const { token } of this.failures.values()) floor = Math.min(floor, token - 1);
    while (this.history.length > 1 && (this.history.length > MAX_HISTORY || this.history[0]!.token < floor)) this.history.shift();
  }
}
