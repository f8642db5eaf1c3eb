/**
 * The one membership conformance suite: every MembershipBackend (memory, Redis standalone, Redis Cluster, Redis
 * Sentinel, etcd) must pass the same checks. A backend's test file calls
 * `membershipBackendSuite(name, setup, { skip })` once; `setup` runs once per file (start the store there) and every
 * check uses fresh cluster names on that one store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/membership/backend.js';
import { converged, expectAgreement, ids, ignore, Member, owners, sleep, until, type BackendFixture } from './conformance-member.js';

export type { BackendFixture } from './conformance-member.js';

export type ConformanceCheck =
  'join' | 'late-join' | 'leave' | 'crash' | 'missed-message' | 'outage' | 'spoofed' | 'two-clusters' | 'broadcast';

export interface SuiteOptions {
  /** Checks this backend cannot run, e.g. 'spoofed' for the unsigned memory bus, 'outage' without a killable store. */
  skip?: readonly ConformanceCheck[];
}

/** Registers one `describe` with every check not in `skip`. */
export function membershipBackendSuite(name: string, setup: () => Promise<BackendFixture>, options: SuiteOptions = {}): void {
  describe(`membership conformance: ${name}`, () => {
    let fixture: BackendFixture;
    const members: Member[] = [];
    const clusterName = (check: string) => `conf-${check}-${randomUUID().slice(0, 8)}`;
    const member = (cluster: string, id?: string, secret?: string) => {
      const m = new Member(fixture, cluster, id, secret);
      members.push(m);
      return m;
    };
    const check = (name: ConformanceCheck, body: () => Promise<void>, timeout?: number) => {
      if (options.skip?.includes(name)) return;
      it(
        name,
        async () => {
          try {
            await body();
          } finally {
            await Promise.all(members.splice(0).map((m) => m.membership.stop().catch(() => {})));
          }
        },
        timeout,
      );
    };

    beforeAll(async () => {
      fixture = await setup();
    }, 60_000);
    afterAll(async () => {
      await fixture?.close?.();
    }, 30_000);

    check('join', async () => {
      const cluster = clusterName('join');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      const observer = member(cluster);
      await Promise.all([...group, observer].map((m) => m.membership.start()));
      await converged([...group, observer], (ring) => ids(ring) === 'a,b,c');
      expect(observer.membership.self).toBeUndefined();
      expectAgreement([...group, observer]);
    });

    check('late-join', async () => {
      const cluster = clusterName('late');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all(group.map((m) => m.membership.start()));
      await converged(group, (ring) => ids(ring) === 'a,b,c');
      const late = member(cluster, 'd');
      await late.membership.start();
      // Its first ring is the stored snapshot, before its own join.
      expect(ids(late.rings[0]!)).toBe('a,b,c');
      await converged([...group, late], (ring) => ids(ring) === 'a,b,c,d');
      expectAgreement([...group, late]);
    });

    check('leave', async () => {
      const cluster = clusterName('leave');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all(group.map((m) => m.membership.start()));
      await converged(group, (ring) => ids(ring) === 'a,b,c');
      await group[2]!.membership.stop();
      const rest = group.slice(0, 2);
      await converged(rest, (ring) => ids(ring) === 'a,b');
      for (const m of rest) expect(m.left).toEqual([['c', 'graceful']]);
      expectAgreement(rest);
    });

    check('crash', async () => {
      const cluster = clusterName('crash');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all(group.map((m) => m.membership.start()));
      await converged(group, (ring) => ids(ring) === 'a,b,c');
      group[2]!.crash(); // silent from now on, never leaves
      const rest = group.slice(0, 2);
      await converged(rest, (ring) => ids(ring) === 'a,b', 10 * fixture.detection.failureTimeout);
      for (const m of rest) {
        expect(m.statuses).toContain('c:suspected');
        expect(m.left).toEqual([['c', 'failed']]);
      }
      expectAgreement(rest);
    });

    check('missed-message', async () => {
      const cluster = clusterName('missed');
      const [a, b, c] = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all([a!, b!, c!].map((m) => m.membership.start()));
      await converged([a!, b!, c!], (ring) => ids(ring) === 'a,b,c');
      // Pub/sub is at most once: this change reaches the snapshot, but its message reaches nobody.
      a!.lossy = true;
      await a!.membership.pin('key-1', 'c');
      const resyncs = b!.membership.stats().resyncs;
      await converged([a!, b!, c!], (ring) => ring.pins['key-1'] === 'c', 10 * fixture.detection.syncInterval);
      expect(b!.membership.stats().resyncs).toBeGreaterThan(resyncs);
      expectAgreement([a!, b!, c!]);
    });

    check(
      'outage',
      async () => {
        const outage = fixture.outage;
        if (!outage) throw new Error(`the ${name} fixture has no outage: add 'outage' to skip`);
        const cluster = clusterName('outage');
        const group = ['a', 'b', 'c'].map((id) => member(cluster, id, 'outage-secret'));
        await Promise.all(group.map((m) => m.membership.start()));
        await converged(group, (ring) => ids(ring) === 'a,b,c');
        const before = owners(group[0]!.membership.ring);
        const checksum = group[0]!.membership.ring.checksum;

        await outage.kill(cluster);
        await until(() => group.every((m) => m.membership.degraded), 'degraded', 10_000);
        await sleep(3 * fixture.detection.failureTimeout); // longer than failure detection would take
        for (const m of group) expect(owners(m.membership.ring)).toEqual(before); // routing continues on the last ring

        await outage.restart();
        await until(() => group.every((m) => !m.membership.degraded && m.recovered > 0), 'recovered', 20_000);
        await converged(group, (ring) => ring.checksum === checksum);
        await sleep(3 * fixture.detection.failureTimeout); // detection runs again: still nobody suspected or evicted
        for (const m of group) {
          expect(m.left).toEqual([]);
          expect(m.statuses).toEqual([]);
        }
        expectAgreement(group);
        // Messages flow again: every subscription came back with the store (on a Redis Cluster, on the new master).
        await group[0]!.membership.broadcast('after-outage', {});
        const heard = (m: Member) => m.messages.some((message) => (message as { type: string }).type === 'after-outage');
        await until(() => group.slice(1).every(heard), 'a broadcast after the outage, heard by both others', 5_000);
      },
      60_000,
    );

    check('spoofed', async () => {
      const cluster = clusterName('spoofed');
      const secret = 'conformance-secret';
      const [a, b] = ['a', 'b'].map((id) => member(cluster, id, secret));
      await Promise.all([a!, b!].map((m) => m.membership.start()));
      await converged([a!, b!], (ring) => ids(ring) === 'a,b');
      const checksum = a!.membership.ring.checksum;
      const seq = a!.membership.stats().epoch;
      const forged: BusMessage[] = [
        { kind: 'change', sender: 'evil', seq: seq + 1, change: { add: [{ id: 'intruder' }] } },
        { kind: 'change', sender: 'evil', seq: seq + 1, change: { remove: ['b'], reason: 'removed' } },
        { kind: 'app', sender: 'evil', from: 'b', type: 'release', data: { doc: 'd1' } },
      ];
      // Someone with access to the store but without the secret: wrong signature, then no signature at all.
      for (const attacker of ['not-the-secret', undefined]) {
        const forger = fixture.connect(cluster, attacker === undefined ? {} : { secret: attacker });
        await forger.open(ignore);
        for (const message of forged) await forger.publish(message);
        await forger.close();
      }
      await until(() => [a!, b!].every((m) => m.dropped.length >= 2 * forged.length), 'drops', 5000);
      for (const m of [a!, b!]) {
        expect([...m.dropped].sort()).toEqual([...Array(3).fill('signature'), ...Array(3).fill('unsigned')]);
        expect(m.membership.stats().dropped.signature).toBe(3);
        expect(m.messages).toEqual([]);
      }
      await sleep(2 * fixture.detection.syncInterval);
      for (const m of [a!, b!]) {
        expect(ids(m.membership.ring)).toBe('a,b');
        expect(m.membership.ring.checksum).toBe(checksum);
      }
    });

    check('two-clusters', async () => {
      const [one, two] = [clusterName('one'), clusterName('two')];
      const first = ['a', 'b'].map((id) => member(one, id));
      const second = ['a', 'x'].map((id) => member(two, id)); // the same node id in both: no clash
      await Promise.all([...first, ...second].map((m) => m.membership.start()));
      await converged(first, (ring) => ids(ring) === 'a,b');
      await converged(second, (ring) => ids(ring) === 'a,x');
      await first[0]!.membership.pin('key-1', 'b');
      await first[0]!.membership.broadcast('hello', 1);
      await converged(first, (ring) => ring.pins['key-1'] === 'b');
      await until(() => first[1]!.messages.length === 1, 'message', 5000);
      await sleep(2 * fixture.detection.syncInterval);
      for (const m of second) {
        expect(ids(m.membership.ring)).toBe('a,x');
        expect(m.membership.ring.pins).toEqual({});
        expect(m.messages).toEqual([]);
        expect(m.dropped).toEqual([]);
      }
    });

    check('broadcast', async () => {
      const cluster = clusterName('broadcast');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all(group.map((m) => m.membership.start()));
      await converged(group, (ring) => ids(ring) === 'a,b,c');
      await group[0]!.membership.broadcast('release', { doc: 'd1' });
      await until(() => group.slice(1).every((m) => m.messages.length === 1), 'messages', 5000);
      await sleep(2 * fixture.detection.syncInterval);
      expect(group[0]!.messages).toEqual([]);
      for (const m of group.slice(1)) expect(m.messages).toEqual([{ type: 'release', data: { doc: 'd1' }, from: 'a' }]);
    });
  });
}
