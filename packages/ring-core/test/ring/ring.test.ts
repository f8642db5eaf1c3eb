import { describe, expect, it } from 'vitest';
import { createRing, decide, ringFromJSON, RingRouteConfigError, type NodeSpec, type Ring, type StrategyName } from '@ringroute/ring-core';

const KEYS = Array.from({ length: 500 }, (_, i) => `key-${i}`);
const three: NodeSpec[] = [
  { id: 'a', url: 'http://10.0.0.1:3000' },
  { id: 'b', url: 'http://10.0.0.2:3000' },
  { id: 'c', url: 'http://10.0.0.3:3000' },
];

/** A key the ring (without overrides) gives to `id`. */
function keyOwnedBy(ring: Ring, id: string): string {
  const key = KEYS.find((k) => ring.owner(k)?.id === id);
  if (!key) throw new Error(`no sample key owned by ${id}`);
  return key;
}

async function rejects(options: Parameters<typeof createRing>[0], option: string) {
  const error = await createRing(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RingRouteConfigError);
  expect((error as RingRouteConfigError).option).toBe(option);
  expect((error as Error).message).toContain(option);
}

describe('createRing validation', () => {
  it('rejects negative, NaN and infinite weights naming the field', async () => {
    await rejects({ nodes: [{ id: 'a' }, { id: 'b', weight: -1 }] }, 'nodes[1].weight');
    await rejects({ nodes: [{ id: 'a', weight: Number.NaN }] }, 'nodes[0].weight');
    await rejects({ nodes: [{ id: 'a', weight: Infinity }] }, 'nodes[0].weight');
  });

  it('rejects duplicate and empty ids naming the field', async () => {
    await rejects({ nodes: [{ id: 'a' }, { id: 'a' }] }, 'nodes[1].id');
    await rejects({ nodes: [{ id: '' }] }, 'nodes[0].id');
    await rejects({ nodes: [{ id: 7 as unknown as string }] }, 'nodes[0].id');
  });

  it('rejects bad options naming them', async () => {
    await rejects({ nodes: three, vnode: 100 } as never, 'vnode');
    await rejects({ nodes: three, vnodes: 0 }, 'vnodes');
    await rejects({ nodes: three, strategy: 'ketama' as StrategyName }, 'strategy');
    await rejects({ nodes: three, hash: 'sha1' as 'xxh32' }, 'hash');
    await rejects({ nodes: [{ id: 'a', status: 'zombie' as 'alive' }] }, 'nodes[0].status');
    await rejects({ nodes: [{ id: 'a', url: 'not a url' }] }, 'nodes[0].url');
    await rejects({ nodes: 'a,b' as unknown as NodeSpec[] }, 'nodes');
  });

  it('rejects bad changes in with() naming the field, leaving the ring usable', async () => {
    const ring = await createRing({ nodes: three });
    const before = { checksum: ring.checksum, epoch: ring.epoch, owners: KEYS.map((k) => ring.owner(k)!.id) };
    expect(() => ring.with({ add: [{ id: 'a' }] })).toThrow(/add\[0\]\.id/);
    expect(() => ring.with({ update: [{ id: 'zz', status: 'dead' }] })).toThrow(/update\[0\]\.id/);
    expect(() => ring.with({ update: [{ id: 'a', weight: -2 }] })).toThrow(/update\[0\]\.weight/);
    // Nothing half-applied: the same ring as before, and a valid change still builds the next one.
    expect({ checksum: ring.checksum, epoch: ring.epoch, owners: KEYS.map((k) => ring.owner(k)!.id) }).toEqual(before);
    expect(ring.nodes.map((n) => [n.id, n.status, n.weight])).toEqual(three.map((n) => [n.id, 'alive', 1]));
    const next = ring.with({ add: [{ id: 'd' }] });
    expect(next.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(next.epoch).toBeGreaterThan(ring.epoch);
  });

  it('accepts weight 0 (draining): the node owns nothing and nothing throws', async () => {
    const ring = await createRing({ nodes: [...three, { id: 'd', weight: 0 }] });
    expect(KEYS.some((k) => ring.owner(k)!.id === 'd')).toBe(false);
    expect(ring.ranges('d')).toEqual([]);
    expect(ring.owners('x', 4).map((n) => n.id)).not.toContain('d');
  });

  it('an empty ring has no owner and no candidates', async () => {
    const ring = await createRing({ nodes: [] });
    expect(ring.owner('x')).toBeUndefined();
    expect(ring.owners('x', 3)).toEqual([]);
    expect([...ring.candidates('x')]).toEqual([]);
  });
});

describe('pins and custom routing', () => {
  it('precedence: pin > routing function > strategy', async () => {
    const plain = await createRing({ nodes: three });
    const key = keyOwnedBy(plain, 'a');
    const routed = await createRing({ nodes: three, route: (k) => (k === key ? 'b' : null) });
    expect(routed.owner(key)!.id).toBe('b');
    const pinned = await createRing({ nodes: three, route: (k) => (k === key ? 'b' : null), pins: { [key]: 'c' } });
    expect(pinned.owner(key)!.id).toBe('c');
    expect([...pinned.candidates(key)].map((n) => n.id)).toEqual(['c', 'b', 'a']);
    // Other keys still follow the strategy.
    const other = keyOwnedBy(plain, 'b');
    expect(pinned.owner(other)!.id).toBe('b');
  });

  it('an unroutable or unknown pin falls through to the routing function, then the strategy', async () => {
    const plain = await createRing({ nodes: three });
    const key = keyOwnedBy(plain, 'a');
    const ring = (await createRing({ nodes: three, pins: { [key]: 'c' }, route: () => 'b' })).with({
      update: [{ id: 'c', status: 'dead' }],
    });
    expect(ring.owner(key)!.id).toBe('b');
    expect([...ring.candidates(key)].map((n) => n.id)).toEqual(['b', 'a', 'c']);
    const unknown = await createRing({ nodes: three, pins: { [key]: 'nobody' } });
    expect(unknown.owner(key)!.id).toBe('a');
  });

  it('a routing function may return a node object, and null falls back to the strategy', async () => {
    const ring = await createRing({ nodes: three, route: (key, nodes) => (key.startsWith('vip:') ? nodes[2] : undefined) });
    expect(ring.owner('vip:1')!.id).toBe('c');
    const plain = await createRing({ nodes: three });
    for (const key of KEYS.slice(0, 50)) expect(ring.owner(key)).toEqual(plain.owner(key));
  });

  it('with({ pins }) sets and clears pins in a new snapshot', async () => {
    const ring = await createRing({ nodes: three });
    const key = keyOwnedBy(ring, 'a');
    const pinned = ring.with({ pins: { [key]: 'b' } });
    expect(pinned.owner(key)!.id).toBe('b');
    expect(pinned.pins).toEqual({ [key]: 'b' });
    expect(pinned.checksum).not.toBe(ring.checksum);
    const unpinned = pinned.with({ pins: { [key]: null } });
    expect(unpinned.owner(key)!.id).toBe('a');
    expect(unpinned.checksum).toBe(ring.checksum);
  });
});

describe('snapshots', () => {
  it('with() returns a new snapshot with epoch + 1 and leaves the old one intact', async () => {
    const ring = await createRing({ nodes: three, epoch: 7 });
    const before = KEYS.map((k) => ring.owner(k)!.id);
    const next = ring.with({ add: [{ id: 'd' }], update: [{ id: 'a', status: 'dead' }] });
    expect(next.epoch).toBe(8);
    expect(ring.epoch).toBe(7);
    expect(ring.nodes.map((n) => [n.id, n.status])).toEqual([
      ['a', 'alive'],
      ['b', 'alive'],
      ['c', 'alive'],
    ]);
    expect(KEYS.map((k) => ring.owner(k)!.id)).toEqual(before);
    expect(next.node('a')!.status).toBe('dead');
    expect(next.node('a')!.since).toBeGreaterThan(0);
    expect(Object.isFrozen(ring.nodes)).toBe(true);
  });

  it('toJSON() round-trips through ringFromJSON() to the same ring', async () => {
    for (const strategy of ['ring', 'maglev', 'rendezvous'] as const) {
      const ring = (await createRing({ nodes: three, strategy, hash: 'xxh64', vnodes: 64, pins: { k: 'b' } })).with({
        update: [{ id: 'c', status: 'suspected', weight: 2, meta: { zone: 'eu' } }],
      });
      const json = JSON.parse(JSON.stringify(ring.toJSON()));
      const copy = await ringFromJSON(json);
      expect(copy.checksum).toBe(ring.checksum);
      expect(copy.epoch).toBe(ring.epoch);
      expect(copy.strategy).toBe(strategy);
      expect(copy.node('c')!.meta).toEqual({ zone: 'eu' });
      expect(KEYS.map((k) => copy.owner(k)!.id)).toEqual(KEYS.map((k) => ring.owner(k)!.id));
    }
  });

  it('a ring with a custom hash function refuses to serialise, naming the hash', async () => {
    const ring = await createRing({ nodes: three, hash: (key) => key.length * 1_000_003 });
    expect(ring.hashName).toBe('custom');
    expect(() => ring.toJSON()).toThrow(/hash/);
    // Lookups use the function: keys of one length hash alike, so they share an owner.
    expect(ring.position('abc')).toBe(3 * 1_000_003);
    expect(ring.owner('xyz')!.id).toBe(ring.owner('abc')!.id);
  });
});

describe('candidates() and ranges()', () => {
  it('candidates follow the ring clockwise from the key, routable first, dead ones last', async () => {
    const ring = await createRing({ nodes: three, vnodes: 1 });
    // One point per node: the chain from a key is the nodes in position order, starting after the key.
    const points = ring.nodes.map((n) => ({ id: n.id, at: ring.position(`${n.id}#0`) })).sort((x, y) => x.at - y.at);
    const key = 'some-key';
    const at = ring.position(key);
    const start = points.findIndex((p) => p.at >= at);
    const clockwise = [...points.slice(start < 0 ? 0 : start), ...points.slice(0, start < 0 ? 0 : start)].map((p) => p.id);
    expect([...ring.candidates(key)].map((n) => n.id)).toEqual(clockwise);
    const degraded = ring.with({ update: [{ id: clockwise[0]!, status: 'dead' }] });
    expect([...degraded.candidates(key)].map((n) => n.id)).toEqual([...clockwise.slice(1), clockwise[0]]);
  });

  it.each(['ring', 'maglev'] as const)('%s: every key position lies in exactly one node range, its owner', async (strategy) => {
    const ring = await createRing({ nodes: three, strategy, vnodes: 20 });
    const ranges = new Map(ring.nodes.map((n) => [n.id, ring.ranges(n.id)]));
    const inArc = (p: number, { start, end }: { start: number; end: number }) =>
      start <= end ? p >= start && p <= end : p >= start || p <= end;
    for (const key of KEYS) {
      const p = ring.position(key);
      const holders = ring.nodes.filter((n) => ranges.get(n.id)!.some((r) => inArc(p, r)));
      expect(holders.map((n) => n.id)).toEqual([ring.owner(key)!.id]);
    }
    expect(ring.ranges('nobody')).toEqual([]);
  });

  it('ranges ignore status: a dead node keeps its arcs (its keys come back when it does)', async () => {
    const ring = await createRing({ nodes: three });
    const dead = ring.with({ update: [{ id: 'b', status: 'dead' }] });
    expect(dead.ranges('b')).toEqual(ring.ranges('b'));
    const back = dead.with({ update: [{ id: 'b', status: 'alive' }] });
    expect(KEYS.map((k) => back.owner(k)!.id)).toEqual(KEYS.map((k) => ring.owner(k)!.id));
  });

  it('rendezvous has no arcs: ranges() is empty', async () => {
    const ring = await createRing({ nodes: three, strategy: 'rendezvous' });
    expect(ring.ranges('a')).toEqual([]);
  });
});

describe('decide()', () => {
  it('local for the owner, the policy for others, with owner and epoch', async () => {
    const ring = await createRing({ nodes: three, epoch: 4 });
    const key = keyOwnedBy(ring, 'a');
    expect(decide(ring, key, { self: 'a' })).toEqual({ action: 'local', owner: ring.node('a'), epoch: 4, reason: 'owner' });
    expect(decide(ring, key, { self: 'b' })).toMatchObject({ action: 'redirect', reason: 'not-owner', epoch: 4 });
    expect(decide(ring, key, { self: 'b', policy: 'proxy' })).toMatchObject({ action: 'proxy', reason: 'not-owner' });
    expect(decide(ring, key, { self: 'b', policy: 'refuse' })).toMatchObject({ action: 'refuse', reason: 'not-owner' });
    expect(decide(ring, key, { self: 'b' }).owner!.id).toBe('a');
  });

  it('enforce=false handles locally but reports the owner', async () => {
    const ring = await createRing({ nodes: three });
    const key = keyOwnedBy(ring, 'a');
    expect(decide(ring, key, { self: 'c', enforce: false })).toMatchObject({ action: 'local', reason: 'not-enforced', owner: { id: 'a' } });
  });

  it('refuses with max-hops once hops >= maxHops, instead of bouncing again', async () => {
    const ring = await createRing({ nodes: three });
    const key = keyOwnedBy(ring, 'a');
    expect(decide(ring, key, { self: 'b', hops: 2 })).toMatchObject({ action: 'redirect' });
    expect(decide(ring, key, { self: 'b', hops: 3 })).toMatchObject({ action: 'refuse', reason: 'max-hops' });
    expect(decide(ring, key, { self: 'b', hops: 1, maxHops: 1, policy: 'proxy' })).toMatchObject({ action: 'refuse', reason: 'max-hops' });
    // The owner itself always handles the request, whatever the hop count.
    expect(decide(ring, key, { self: 'a', hops: 9 })).toMatchObject({ action: 'local', reason: 'owner' });
  });

  it('no-owner when nothing is routable, no-url when the owner has no address', async () => {
    const down = (await createRing({ nodes: three })).with({ update: three.map((n) => ({ id: n.id, status: 'dead' as const })) });
    expect(decide(down, 'k', { self: 'a' })).toMatchObject({ action: 'refuse', reason: 'no-owner', owner: undefined });
    const bare = await createRing({ nodes: [{ id: 'x' }, { id: 'y' }] });
    const key = keyOwnedBy(bare, 'x');
    expect(decide(bare, key, { self: 'y' })).toMatchObject({ action: 'refuse', reason: 'no-url', owner: { id: 'x' } });
    expect(decide(bare, key, { self: 'y', policy: 'refuse' })).toMatchObject({ action: 'refuse', reason: 'not-owner' });
  });

  it('follows status: when the owner dies, its keys are decided for the next candidate', async () => {
    const ring = await createRing({ nodes: three });
    const key = keyOwnedBy(ring, 'a');
    const next = ring.owners(key, 2)[1]!.id;
    const dead = ring.with({ update: [{ id: 'a', status: 'dead' }] });
    expect(decide(dead, key, { self: next })).toMatchObject({ action: 'local', epoch: 1 });
  });
});
