/**
 * The one membership conformance suite: every MembershipBackend (memory, Redis standalone, Redis Cluster, Redis
 * Sentinel, etcd) must pass the same checks. A backend's test file calls
 * `membershipBackendSuite(name, setup, { groups })` once; `setup` runs once per file (start the store there) and every
 * check uses fresh cluster names on that one store.
 *
 * Checks come in capability groups (libkv style): every backend runs the core checks, and opts into the groups it
 * can support; a group that means nothing for a backend (signatures on the unsigned memory bus, a kill -9 of a member
 * that cannot live in another process) is not listed for it, so nothing shows as skipped.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/membership/backend.js';
import { ChildMember } from '../fixtures/child-member.js';
import { converged, expectAgreement, ids, ignore, Member, owners, sleep, until, type BackendFixture } from './conformance-member.js';

export type { BackendFixture } from './conformance-member.js';

const CORE = ['join', 'late-join', 'leave', 'missed-message', 'two-clusters', 'broadcast'] as const;

/** The checks of each capability group a backend may opt into. */
const GROUPS = {
  /** Messages are signed: someone with store access but without the secret changes nothing. */
  signed: ['spoofed'],
  /** Members can run in other processes (`fixture.memberProcess`): one is killed with SIGKILL. */
  crash: ['crash'],
  /** The store can be killed and restarted (`fixture.outage`). */
  outage: ['outage'],
  /** For a backend whose members share one process: a member goes silent (a simulated crash). */
  silence: ['silence'],
} as const;

export type CapabilityGroup = keyof typeof GROUPS;
export type ConformanceCheck = (typeof CORE)[number] | (typeof GROUPS)[CapabilityGroup][number];

export interface SuiteOptions {
  /** The capability groups this backend supports, besides the core checks. */
  groups: readonly CapabilityGroup[];
  /**
   * Checks of those groups this backend cannot pass yet, each with the reason: reported as skipped with it. Never in
   * CI (no skipped tests there): a check that is meaningless for a backend belongs to a group it does not list.
   */
  skip?: Partial<Record<ConformanceCheck, string>>;
}

/** Registers one `describe` with the core checks and those of the backend's groups. */
export function membershipBackendSuite(name: string, setup: () => Promise<BackendFixture>, options: SuiteOptions): void {
  const enabled = new Set<ConformanceCheck>([...CORE, ...options.groups.flatMap((group) => GROUPS[group])]);
  describe(`membership conformance: ${name} (core, ${options.groups.join(', ') || 'no other group'})`, () => {
    let fixture: BackendFixture;
    const members: Member[] = [];
    const children: ChildMember[] = [];
    const clusterName = (check: string) => `conf-${check}-${randomUUID().slice(0, 8)}`;
    const member = (cluster: string, id?: string, secret?: string) => {
      const m = new Member(fixture, cluster, id, secret);
      members.push(m);
      return m;
    };
    /** A RedisMembership or EtcdMembership on the same store, in its own process. */
    const processMember = (cluster: string, id: string) => {
      if (!fixture.memberProcess) throw new Error(`the ${name} fixture has no memberProcess, which the crash group needs`);
      const child = new ChildMember(id, { ...fixture.memberProcess, cluster, ...fixture.detection });
      children.push(child);
      return child;
    };
    const check = (name: ConformanceCheck, body: () => Promise<void>, timeout?: number) => {
      if (!enabled.has(name)) return;
      const reason = options.skip?.[name];
      it(
        name,
        async (context) => {
          if (reason !== undefined) context.skip(reason);
          try {
            await body();
          } finally {
            await Promise.all([
              ...members.splice(0).map((m) => m.membership.stop().catch(() => {})),
              ...children.splice(0).map((c) => c.kill()),
            ]);
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

    check(
      'crash',
      async () => {
        const cluster = clusterName('crash');
        const group = ['a', 'b'].map((id) => member(cluster, id));
        await Promise.all(group.map((m) => m.membership.start()));
        const victim = processMember(cluster, 'c');
        await victim.waitFor((event) => event.event === 'started');
        await converged(group, (ring) => ids(ring) === 'a,b,c');
        await victim.kill(); // SIGKILL: no leave, no last heartbeat; only the failure detector can tell
        await converged(group, (ring) => ids(ring) === 'a,b', 10 * fixture.detection.failureTimeout);
        for (const m of group) {
          expect(m.statuses).toContain('c:suspected');
          expect(m.left).toEqual([['c', 'failed']]);
        }
        expectAgreement(group);
      },
      60_000,
    ); // the member process starts first: seconds on a busy machine

    check('silence', async () => {
      const cluster = clusterName('silence');
      const group = ['a', 'b', 'c'].map((id) => member(cluster, id));
      await Promise.all(group.map((m) => m.membership.start()));
      await converged(group, (ring) => ids(ring) === 'a,b,c');
      group[2]!.silence(); // a simulated crash: every store call fails from now on, and it never leaves
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
        if (!outage) throw new Error(`the ${name} fixture has no outage, which the outage group needs`);
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
