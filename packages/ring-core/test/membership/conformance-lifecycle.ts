/**
 * The conformance suite's store-lifecycle group, for backends whose store can be away: a member started before its
 * store runs says what it waits for (the store and its address), keeps trying and joins within one heartbeat of the
 * store answering; a member started during the store's failover joins every ring within two heartbeats of the store
 * recovering. A backend's test file calls `storeLifecycleSuite(name, setup)` beside `membershipBackendSuite`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipBackend } from '../../src/membership/backend.js';
import { SharedMembership, type FailureDetection } from '../../src/membership/shared.js';
import { ids, sleep, until } from './conformance-member.js';

/** The default heartbeat: the bounds below are counted in heartbeats. */
export const LIFECYCLE_DETECTION: FailureDetection = { syncInterval: 1000, heartbeatInterval: 1000, failureTimeout: 5000 };
const HEARTBEAT = LIFECYCLE_DETECTION.heartbeatInterval;
/** What a busy 2-core machine may add to a bound (scheduling, a GC pause, the harness's own polling). */
const MARGIN = 500;
/** How long the store stays away after the members started ("several seconds"). */
const AWAY = 3000;

/** A store of the backend's kind on free ports that does not run yet. */
export interface UnstartedStore {
  /** `host:port` of the store (one of them for a deployment of several), as the waiting reason names it. */
  address: string;
  connect(cluster: string): MembershipBackend;
  /** Starts it; resolves once it answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface LifecycleFixture {
  /** A connection to the running store, with LIFECYCLE_DETECTION's timing. */
  connect(cluster: string): MembershipBackend;
  unstarted(): Promise<UnstartedStore>;
  /**
   * Kills (SIGKILL) the server holding `cluster`'s keys. `recovered` resolves once the store serves them again (a
   * restart, or a replica promoted); `restore` then brings the killed server back for the next checks.
   */
  failover(cluster: string): Promise<{ recovered(): Promise<void>; restore(): Promise<void> }>;
  close?(): Promise<void>;
}

export function storeLifecycleSuite(name: string, setup: () => Promise<LifecycleFixture>): void {
  describe(`membership conformance (store lifecycle): ${name}`, () => {
    let fixture: LifecycleFixture;
    const running: SharedMembership[] = [];
    const member = (backend: MembershipBackend, id?: string) => {
      const self = id === undefined ? undefined : { id, url: `http://127.0.0.1/${id}` };
      const membership = new SharedMembership(backend, { self, detection: LIFECYCLE_DETECTION });
      running.push(membership);
      return membership;
    };
    const check = (title: string, body: () => Promise<void>) =>
      it(
        title,
        async () => {
          try {
            await body();
          } finally {
            await Promise.all(running.splice(0).map((m) => m.stop().catch(() => {})));
          }
        },
        90_000,
      );

    beforeAll(async () => {
      fixture = await setup();
    }, 60_000);
    afterAll(async () => {
      await fixture?.close?.();
    }, 30_000);

    check('start while the store is away: waits naming the store, joins within a heartbeat of it answering', async () => {
      const store = await fixture.unstarted();
      try {
        const cluster = `conf-away-${randomUUID().slice(0, 8)}`;
        const [a, b, c] = ['a', 'b', 'c'].map((id) => member(store.connect(cluster), id));
        const starts = [a!, b!, c!].map((m) => m.start());
        // The reason names the kind of store, its address, and why it is not answering.
        await until(() => a!.waiting?.includes(': ') === true, 'a waiting reason with a cause', 10_000);
        expect(a!.waiting).toMatch(/^waiting for (Redis|Redis Sentinel \S+|Redis Cluster|etcd) at [^ ]+.*: .+/);
        expect(a!.waiting!.slice(0, a!.waiting!.indexOf(': '))).toContain(store.address);
        expect(a!.stats().waiting).toBe(a!.waiting);

        // Stopping a member that still waits ends its start at once.
        const stopping = performance.now();
        await c!.stop();
        expect(performance.now() - stopping).toBeLessThan(HEARTBEAT);
        await expect(starts[2]).rejects.toThrow(/^membership stopped before it joined \(waiting for /);

        await sleep(AWAY);
        for (const m of [a!, b!]) {
          expect(m.ready).toBe(false);
          expect(m.waiting).toContain(store.address);
        }
        await store.start();
        const answered = performance.now();
        await until(() => [a!, b!].every((m) => m.ready && ids(m.ring) === 'a,b'), 'both members in both rings', 10_000);
        const joined = performance.now() - answered;
        expect(joined).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
        await Promise.all(starts.slice(0, 2));
        for (const m of [a!, b!]) {
          expect(m.waiting).toBeUndefined();
          expect(m.stats().waiting).toBeUndefined();
        }
      } finally {
        await Promise.all(running.splice(0).map((m) => m.stop().catch(() => {})));
        await store.stop();
      }
    });

    check('join during the store failover: a member started after the kill is in every ring within 2 heartbeats', async () => {
      const cluster = `conf-failover-${randomUUID().slice(0, 8)}`;
      const group = ['a', 'b', 'c'].map((id) => member(fixture.connect(cluster), id));
      await Promise.all(group.map((m) => m.start()));
      await until(() => group.every((m) => m.ready && ids(m.ring) === 'a,b,c'), 'the first three members', 10_000);
      // Under load: the members keep changing the ring (pins) through the failover; failed changes are fine.
      let loading = true;
      const load = (async () => {
        for (let n = 0; loading; n++) {
          await group[n % 3]!.pin(`key-${n % 16}`, ['a', 'b', 'c'][n % 3]!).catch(() => {});
          await sleep(10);
        }
      })();
      try {
        const failover = await fixture.failover(cluster);
        const joiner = member(fixture.connect(cluster), 'd');
        const joining = joiner.start();
        await until(() => joiner.waiting?.startsWith('waiting for ') === true && !joiner.ready, 'the joiner waiting', 5000);
        await failover.recovered();
        const recovered = performance.now();
        const all = [...group, joiner];
        await until(() => all.every((m) => m.ready && m.ring.node('d') !== undefined), 'd in every ring', 20_000);
        expect(performance.now() - recovered).toBeLessThanOrEqual(2 * HEARTBEAT + MARGIN);
        await joining;
        loading = false;
        await load;
        await until(() => new Set(all.map((m) => m.ring.checksum)).size === 1, 'agreement', 10_000);
        expect(ids(joiner.ring)).toBe('a,b,c,d');
        await failover.restore();
      } finally {
        loading = false;
        await load;
      }
    });
  });
}
