import { afterEach, describe, expect, it } from 'vitest';
import { ChildMember, converged, freePort, REDIS_URL, SpawnedRedis, testRedis } from './harness.js';

const timing = { syncInterval: 100, failureTimeout: 400 };
const ids = (ring: { nodes?: string[] }) => (ring.nodes ?? []).map((n) => n.split(':')[0]);
const keys = Array.from({ length: 50 }, (_, i) => `doc-${i}`);

describe('RedisMembership across processes', () => {
  const { cluster } = testRedis();
  const members: ChildMember[] = [];
  const member = (id: string, options: Record<string, unknown>) => {
    const child = new ChildMember(id, options);
    members.push(child);
    return child;
  };

  afterEach(async () => {
    await Promise.all(members.splice(0).map((m) => m.kill()));
  });

  it('members in separate processes converge on the same checksum; a late joiner gets the full ring', async () => {
    const options = { redis: REDIS_URL, cluster: cluster('converge'), secret: 'converge-secret', ...timing };
    const first = ['m1', 'm2', 'm3'].map((id) => member(id, options));
    const rings = await converged(first, (ring) => ring.nodes?.length === 3);
    expect(new Set(rings.map((r) => r.checksum)).size).toBe(1);
    expect(ids(rings[0]!)).toEqual(['m1', 'm2', 'm3']);

    const late = member('m4', options);
    const firstRing = await late.waitFor((e) => e.event === 'ring');
    expect(ids(firstRing)).toEqual(['m1', 'm2', 'm3']); // the snapshot, before its own join
    const all = await converged([...first, late], (ring) => ring.nodes?.length === 4);
    expect(new Set(all.map((r) => r.checksum)).size).toBe(1);
    expect(new Set(all.map((r) => r.epoch)).size).toBe(1);
    const routes = await Promise.all([...first, late].map((m) => m.route(keys)));
    for (const route of routes) expect(route.owners).toEqual(routes[0]!.owners);

    await late.stop(); // graceful leave: removed from every member at once
    const after = await converged(first, (ring) => ring.nodes?.length === 3);
    expect(new Set(after.map((r) => r.checksum)).size).toBe(1);
    for (const m of first) expect(m.events.find((e) => e.event === 'left' && e.node === 'm4')?.reason).toBe('graceful');
  });

  it('kill -9 of a member: the others mark it suspected, then remove it as failed', async () => {
    const options = { redis: REDIS_URL, cluster: cluster('kill'), ...timing };
    const [a, b, c] = ['k1', 'k2', 'k3'].map((id) => member(id, options));
    await converged([a!, b!, c!], (ring) => ring.nodes?.length === 3);
    const mark = [a!.events.length, b!.events.length];
    await c!.kill();
    for (const [i, survivor] of [a!, b!].entries()) {
      const suspected = await survivor.waitFor((e) => e.event === 'status' && e.node === 'k3' && e.to === 'suspected', mark[i]);
      const left = await survivor.waitFor((e) => e.event === 'left' && e.node === 'k3', mark[i]);
      expect(left.reason).toBe('failed');
      expect(left.at).toBeGreaterThanOrEqual(suspected.at);
    }
    const rings = await converged([a!, b!], (ring) => ring.nodes?.length === 2);
    expect(rings[0]!.checksum).toBe(rings[1]!.checksum);
    expect(ids(rings[0]!)).toEqual(['k1', 'k2']);
  });

  it('a Redis outage: members keep routing on the last ring, nobody is evicted, all resync afterwards', async () => {
    const server = new SpawnedRedis(await freePort());
    await server.start();
    try {
      const options = { redis: server.url, cluster: cluster('outage'), secret: 'outage-secret', ...timing };
      const group = ['o1', 'o2', 'o3'].map((id) => member(id, options));
      const before = await converged(group, (ring) => ring.nodes?.length === 3);
      const routesBefore = await group[0]!.route(keys);

      await server.kill();
      await Promise.all(group.map((m) => m.waitFor((e) => e.event === 'degraded')));
      // Many failure timeouts pass while Redis is gone.
      await new Promise((r) => setTimeout(r, 8 * timing.failureTimeout));
      for (const m of group) {
        const route = await m.route(keys);
        expect(route.degraded).toBe(true);
        expect(route.owners).toEqual(routesBefore.owners);
      }

      await server.start(); // empty: --save "" -- the members re-seed it from their last ring
      await Promise.all(group.map((m) => m.waitFor((e) => e.event === 'recovered')));
      const after = await converged(group, (ring) => ring.nodes?.length === 3 && ring.checksum === before[0]!.checksum);
      expect(new Set(after.map((r) => r.checksum)).size).toBe(1);
      // Let failure detection run after recovery: still nobody suspected or evicted.
      await new Promise((r) => setTimeout(r, 3 * timing.failureTimeout));
      for (const m of group) {
        expect(m.events.filter((e) => e.event === 'left' || e.event === 'status')).toEqual([]);
        expect(m.ring!.nodes).toEqual(['o1:alive', 'o2:alive', 'o3:alive']);
        expect((await m.route(keys)).degraded).toBe(false);
      }
    } finally {
      await Promise.all(members.splice(0).map((m) => m.kill()));
      await server.kill();
    }
  });
});
