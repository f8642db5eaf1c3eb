import type { Ring } from '../types.js';
import type { ClusterChange, Heartbeat } from './backend.js';
import type { DropReason } from './types.js';

/** Heartbeats and failure detection, for members in separate processes. */
export interface FailureDetection {
  /** Period of the check of the snapshot's seq (ms). */
  syncInterval: number;
  /** Heartbeat period: each member beats and reads the members it watches this often (ms). */
  heartbeatInterval: number;
  /** No heartbeat for this long: suspected; for twice as long: removed (ms). */
  failureTimeout: number;
}

/**
 * How many members read each member's heartbeat. Each member reads the heartbeats of the next WATCHERS members in
 * id order, so reads per member stay constant as the cluster grows, and a crash is still noticed when up to
 * WATCHERS - 1 of its watchers crashed with it.
 */
export const WATCHERS = 3;

/**
 * How far another host's wall clock may be behind or ahead of ours when judging a heartbeat's send time (ms). NTP
 * keeps hosts within milliseconds; a second also absorbs a clock step or a briefly paused VM, so a live member is not
 * refused (and then evicted) for its clock, while a captured heartbeat still goes stale soon after failureTimeout.
 */
const CLOCK_SKEW = 1000;

/** An accusation the detector wants committed, valid only while the accused has not been heard since `heardAt`. */
export interface Verdict {
  id: string;
  change: ClusterChange;
  heardAt: number | undefined;
}

/**
 * The failure detector: which members this one watches, when each was last heard, and who is silent long enough
 * to be suspected (one failureTimeout) or removed as failed (two). It only judges; the engine commits.
 */
export class FailureDetector {
  /** The members whose heartbeats this one reads. */
  watching: readonly string[] = [];
  private readonly lastHeard = new Map<string, number>();
  /** The record last read per node: an unchanged record is neither news nor a replay. */
  private readonly lastRead = new Map<string, Heartbeat>();
  /** The last beat accepted from each sender instance, and when (to forget instances that fell silent). */
  private readonly beatsHeard = new Map<string, { beat: number; at: number }>();
  /** Accusations are suspended until then (after an outage or a stall, nobody's silence means anything). */
  private graceUntil = 0;
  /**
   * When a heartbeat read last succeeded. Silence counts only up to shortly after it: while reads fail or hang (a
   * Redis Cluster or Sentinel failover, before the backend reports degraded) this member hears nobody, and the
   * others' silence says nothing about them.
   */
  private readAt = -Infinity;

  constructor(
    readonly detection: FailureDetection,
    private readonly drop: (reason: DropReason, detail: string) => void,
  ) {}

  /** Follows the member list: watches the WATCHERS members after `position` in id order. */
  track(members: ReadonlySet<string>, position: string, now: number): void {
    const sorted = [...members].filter((id) => id !== position).sort();
    const start = sorted.findIndex((id) => id > position);
    const from = start < 0 ? 0 : start;
    const watching = Array.from({ length: Math.min(WATCHERS, sorted.length) }, (_, i) => sorted[(from + i) % sorted.length]!);
    for (const id of watching) if (!this.watching.includes(id)) this.lastHeard.set(id, now); // silence counts from now
    for (const id of this.watching) if (!watching.includes(id)) this.forget(id);
    this.watching = watching;
  }

  /** A node (re)joined or was refuted: its silence counts from now. */
  heardNow(id: string, now: number): void {
    if (this.lastHeard.has(id)) this.lastHeard.set(id, now);
  }

  /** Delays accusations until `until` (monotonic ms). */
  grace(until: number): void {
    this.graceUntil = Math.max(this.graceUntil, until);
  }

  /** Takes the records read for `nodes`; returns how many were fresh heartbeats and the highest seq they carry. */
  read(nodes: readonly string[], records: readonly (Heartbeat | null)[], now: number): { fresh: number; seq: number } {
    this.readAt = now;
    let fresh = 0;
    let seq = -1;
    nodes.forEach((node, i) => {
      const record = records[i];
      if (!record || !this.lastHeard.has(node) || same(record, this.lastRead.get(node))) return;
      this.lastRead.set(node, record);
      const replayed = this.replayed(record);
      if (replayed) return this.drop('replayed', `heartbeat of ${node}: ${replayed}`);
      this.beatsHeard.set(record.sender, { beat: record.beat, at: now });
      this.lastHeard.set(node, now);
      fresh++;
      seq = Math.max(seq, record.seq);
    });
    this.forgetSilentSenders(now);
    return { fresh, seq };
  }

  /** Silent for one timeout: suspected. Silent for two: removed as failed. */
  verdicts(ring: Ring, now: number): Verdict[] {
    const timeout = this.detection.failureTimeout;
    const heardUntil = Math.min(now, this.readAt + this.detection.heartbeatInterval);
    const verdicts: Verdict[] = [];
    for (const id of this.watching) {
      const node = ring.node(id);
      const heardAt = this.lastHeard.get(id);
      if (!node || heardAt === undefined) continue;
      const silentFor = heardUntil - Math.max(heardAt, this.graceUntil);
      if (silentFor > 2 * timeout) verdicts.push({ id, heardAt, change: { remove: [id], reason: 'failed' } });
      else if (silentFor > timeout && node.status !== 'suspected' && node.status !== 'dead')
        verdicts.push({ id, heardAt, change: { update: [{ id, status: 'suspected' }] } });
    }
    return verdicts;
  }

  /** Whether `id` has been heard since a verdict was reached (the accusation is then void). */
  heardSince(id: string, heardAt: number | undefined): boolean {
    return this.lastHeard.get(id) !== heardAt;
  }

  private forget(id: string): void {
    this.lastHeard.delete(id);
    this.lastRead.delete(id);
  }

  /**
   * Why a validly signed heartbeat is not fresh (undefined when it is): anyone who can write to the store could put
   * back a captured one to keep a dead node looking alive. The beat catches a replay to members that read the
   * original; the send time (the wall clock: the only one two hosts share) catches one to members that joined since.
   */
  private replayed({ sender, beat, sentAt }: Heartbeat): string | undefined {
    const last = this.beatsHeard.get(sender)?.beat ?? 0;
    if (beat <= last) return `beat ${beat}, already heard ${last}`;
    const age = Date.now() - sentAt;
    if (age > this.detection.failureTimeout + CLOCK_SKEW) return `sent ${age} ms ago`;
    // Dated ahead of our clock by more than the skew: it would stay replayable for that much longer.
    if (age < -CLOCK_SKEW) return `sent ${-age} ms ahead of this clock`;
    return undefined;
  }

  /**
   * An instance heard last this long ago can only be replayed with heartbeats that are too old by now (its send
   * times were at most CLOCK_SKEW ahead of ours), so its last beat need not be remembered.
   */
  private forgetSilentSenders(now: number): void {
    const limit = this.detection.failureTimeout + 2 * CLOCK_SKEW;
    for (const [sender, { at }] of this.beatsHeard) if (now - at > limit) this.beatsHeard.delete(sender);
  }
}

const same = (a: Heartbeat, b: Heartbeat | undefined) =>
  b !== undefined && a.sender === b.sender && a.beat === b.beat && a.sentAt === b.sentAt;
