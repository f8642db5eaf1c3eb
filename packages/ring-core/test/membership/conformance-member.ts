/** The conformance suite's members and checks of agreement (see conformance.ts). */
import { expect } from 'vitest';
import type { DropReason, LeaveReason, Ring } from '@ringroute/ring-core';
import type { BackendHooks, BusMessage, ClusterState, Heartbeat, MembershipBackend } from '../../src/membership/backend.js';
import { SharedMembership, type FailureDetection } from '../../src/membership/shared.js';

export interface BackendFixture {
  /** A new connection to the store for members of `cluster`; `secret` signs and verifies what it carries. */
  connect(cluster: string, options: { secret?: string }): MembershipBackend;
  /** Heartbeat timing for the checks (keep it short: the crash and outage checks wait a few failure timeouts). */
  detection: FailureDetection;
  /**
   * The store's connection option as a RedisMembership (`{ redis }`) or an EtcdMembership (`{ etcd }`) in another
   * process takes it (JSON): the crash group runs a member there and kills it with SIGKILL.
   */
  memberProcess?: { redis: unknown } | { etcd: unknown };
  /**
   * Makes the store holding `cluster` unreachable (kill -9 of the server, or of the master holding its keys) and
   * brings it back (restart; it may come back empty, or as a replica after a failover).
   */
  outage?: { kill(cluster: string): Promise<void>; restart(): Promise<void> };
  /** Removes what the checks left in the store and stops it. */
  close?(): Promise<void>;
}

const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const ignore: BackendHooks = { message() {}, dropped() {}, degraded() {}, recovered() {} };

/**
 * A member in this process on a backend the suite can interfere with: `silence()` makes every store call fail and
 * delivers nothing more (a simulated crash, for backends whose members cannot live in another process), `lossy`
 * commits changes without publishing their messages.
 */
export class Member {
  readonly membership: SharedMembership;
  readonly rings: Ring[] = [];
  readonly left: [string, LeaveReason][] = [];
  readonly statuses: string[] = [];
  readonly dropped: DropReason[] = [];
  readonly messages: unknown[] = [];
  recovered = 0;
  lossy = false;
  private silent = false;

  constructor(fixture: BackendFixture, cluster: string, id: string | undefined, secret: string | undefined) {
    const backend = fixture.connect(cluster, secret === undefined ? {} : { secret });
    const self = id === undefined ? undefined : { id, url: `http://127.0.0.1/${id}` };
    this.membership = new SharedMembership(this.interfere(backend), { self, detection: fixture.detection });
    this.membership.on('ring', (ring) => this.rings.push(ring));
    this.membership.on('left', (node, reason) => this.left.push([node.id, reason]));
    this.membership.on('status', (node, _from, to) => this.statuses.push(`${node.id}:${to}`));
    this.membership.on('dropped', (reason) => this.dropped.push(reason));
    this.membership.on('message', (message) => this.messages.push(message));
    this.membership.on('recovered', () => this.recovered++);
  }

  silence(): void {
    this.silent = true;
  }

  private interfere(backend: MembershipBackend): MembershipBackend {
    const alive = () => {
      if (this.silent) throw new Error('silenced');
    };
    const hooks = (inner: BackendHooks): BackendHooks => ({
      message: (m) => !this.silent && inner.message(m),
      dropped: (reason, detail) => !this.silent && inner.dropped(reason, detail),
      degraded: (error) => !this.silent && inner.degraded(error),
      recovered: () => !this.silent && inner.recovered(),
    });
    return {
      store: backend.store,
      open: (inner) => backend.open(hooks(inner)),
      load: async () => (alive(), backend.load()),
      seq: async () => (alive(), backend.seq()),
      commit: async (expected: number | null, state: ClusterState, change: BusMessage | undefined) => (
        alive(),
        backend.commit(expected, state, this.lossy ? undefined : change)
      ),
      publish: async (message: BusMessage) => (alive(), backend.publish(message)),
      beat: async (heartbeat: Heartbeat, ttl: number) => (alive(), backend.beat(heartbeat, ttl)),
      heartbeats: async (nodes: readonly string[]) => (alive(), backend.heartbeats(nodes)),
      close: () => backend.close(),
    };
  }
}

export const ids = (ring: Ring) =>
  ring.nodes
    .map((n) => n.id)
    .sort()
    .join(',');
export const owners = (ring: Ring) => keys.map((key) => ring.owner(key)?.id ?? null);

export async function until(predicate: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Waits until every member's ring satisfies the predicate at once. */
export function converged(members: Member[], predicate: (ring: Ring) => boolean, timeoutMs = 10_000): Promise<void> {
  return until(() => members.every((m) => m.membership.ready && predicate(m.membership.ring)), 'convergence', timeoutMs);
}

/** Same checksum, same epoch, same owner for every key. */
export function expectAgreement(members: Member[]): void {
  const rings = members.map((m) => m.membership.ring);
  expect(new Set(rings.map((r) => r.checksum)).size).toBe(1);
  expect(new Set(rings.map((r) => r.epoch)).size).toBe(1);
  for (const ring of rings) expect(owners(ring)).toEqual(owners(rings[0]!));
}
