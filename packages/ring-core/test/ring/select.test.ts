import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, createSelector, RingRouteConfigError, type Ring, type SelectionStrategy } from '@ringroute/ring-core';

const nodes = [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }];

/** A deterministic source of [0, 1) numbers (mulberry32), so tests do not depend on Math.random. */
function seeded(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const ids = (list: Iterable<{ id: string }>) => [...list].map((n) => n.id);

describe('createSelector: first pick and fallback', () => {
  it('round-robin takes routable nodes in turn, skipping dead ones', async () => {
    const ring = (await createRing({ nodes })).with({ update: [{ id: 'b', status: 'dead' }] });
    const selector = createSelector(ring, { strategy: 'round-robin' });
    expect(Array.from({ length: 6 }, () => selector.pick()!.id)).toEqual(['a', 'c', 'd', 'a', 'c', 'd']);
  });

  it.each(['round-robin', 'random', 'weighted'] as SelectionStrategy[])(
    '%s: candidates() yields every routable node once, the first pick first, never an unroutable one',
    async (strategy) => {
      const ring = (await createRing({ nodes })).with({ update: [{ id: 'c', status: 'leaving' }] });
      const selector = createSelector(ring, { strategy, random: seeded(1) });
      for (let i = 0; i < 50; i++) expect(ids(selector.candidates()).sort()).toEqual(['a', 'b', 'd']);
    },
  );

  it('random spreads picks uniformly', async () => {
    const selector = createSelector(await createRing({ nodes }), { strategy: 'random', random: seeded(7) });
    const counts = new Map<string, number>();
    for (let i = 0; i < 8000; i++) {
      const id = selector.pick()!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of ['a', 'b', 'c', 'd']) expect(Math.abs(counts.get(id)! / 8000 - 0.25)).toBeLessThan(0.03);
  });

  it('weighted picks in proportion to weight, and never a weight-0 node', async () => {
    const ring = await createRing({
      nodes: [
        { id: 'a', weight: 1 },
        { id: 'b', weight: 3 },
        { id: 'z', weight: 0 },
      ],
    });
    const selector = createSelector(ring, { strategy: 'weighted', random: seeded(3) });
    const picks = Array.from({ length: 8000 }, () => selector.pick()!.id);
    expect(picks).not.toContain('z');
    expect(Math.abs(picks.filter((id) => id === 'b').length / 8000 - 0.75)).toBeLessThan(0.03);
  });

  it('consistent picks the key owner and falls back along the ring; it needs a key', async () => {
    const ring = await createRing({ nodes });
    const selector = createSelector(ring);
    expect(selector.strategy).toBe('consistent');
    for (const key of ['x', 'y', 'z']) expect(ids(selector.candidates(key))).toEqual(ids(ring.owners(key, 4)));
    expect(() => selector.pick()).toThrow(RingRouteConfigError);
    expect(() => selector.pick()).toThrow(/^key:/);
  });

  it('follows the current ring when given a function', async () => {
    let ring: Ring = await createRing({ nodes });
    const selector = createSelector(() => ring, { strategy: 'round-robin' });
    expect(ids(selector.candidates()).sort()).toEqual(['a', 'b', 'c', 'd']);
    ring = ring.with({ remove: ['a', 'b'] });
    expect(ids(selector.candidates()).sort()).toEqual(['c', 'd']);
    ring = ring.with({
      update: [
        { id: 'c', status: 'dead' },
        { id: 'd', status: 'dead' },
      ],
    });
    expect(selector.pick()).toBeUndefined();
    expect(selector.acquire()).toBeUndefined();
  });

  it('rejects invalid options naming them', async () => {
    const ring = await createRing({ nodes });
    expect(() => createSelector(ring, { strategy: 'fastest' as SelectionStrategy })).toThrow(/^strategy:/);
    expect(() => createSelector(ring, { loadFactor: 1 })).toThrow(/^loadFactor:/);
    expect(() => createSelector(ring, { loadFactor: 0.5 })).toThrow(/^loadFactor:/);
    expect(() => createSelector(ring, { loadFactor: Number.NaN })).toThrow(/^loadFactor:/);
    expect(() => createSelector(ring, { random: 4 as unknown as () => number })).toThrow(/^random:/);
  });
});

describe('bounded load', () => {
  it('no node exceeds ceil(c x its share of the in-flight load), under any acquire/release sequence', async () => {
    const ring = await createRing({ nodes: [...nodes, { id: 'e', weight: 2 }] });
    const totalWeight = 6;
    await fc.assert(
      fc.property(
        fc.constantFrom<SelectionStrategy>('consistent', 'round-robin', 'random', 'weighted'),
        fc.constantFrom(1.1, 1.25, 2),
        fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constant(null)), { minLength: 1, maxLength: 300 }),
        (strategy, c, ops) => {
          const selector = createSelector(ring, { strategy, loadFactor: c, random: seeded(ops.length) });
          const leases = [];
          for (const op of ops) {
            if (op === null) {
              leases.shift()?.release();
              continue;
            }
            const lease = selector.acquire(op)!;
            leases.push(lease);
            const { load } = selector;
            const cap = Math.ceil((c * load.total * lease.node.weight) / totalWeight);
            expect(load.get(lease.node.id)).toBeLessThanOrEqual(cap);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("overflow walks the key's candidates: a full owner hands the request to the next candidate with room", async () => {
    const ring = await createRing({ nodes });
    const selector = createSelector(ring, { loadFactor: 1.25 });
    const chain = ids(ring.owners('hot-doc', 4));
    // 4 nodes, c = 1.25: a node has room while its load + 1 <= ceil(1.25 x (total + 1) / 4), i.e. 1 per
    // node for the first three requests, then 2 from the fourth on.
    const picks = Array.from({ length: 4 }, () => selector.acquire('hot-doc')!.node.id);
    expect(picks).toEqual([chain[0], chain[1], chain[2], chain[0]]);
    expect(selector.load.get(chain[0]!)).toBe(2);
    expect(selector.load.total).toBe(4);
  });

  it('a lease releases once; releasing again changes nothing', async () => {
    const selector = createSelector(await createRing({ nodes }), { strategy: 'round-robin', loadFactor: 2 });
    const one = selector.acquire()!;
    const two = selector.acquire()!;
    expect(selector.load.total).toBe(2);
    one.release();
    one.release();
    expect(selector.load.total).toBe(1);
    expect(selector.load.get(two.node.id)).toBe(1);
    two.release();
    expect(selector.load.snapshot()).toEqual({});
  });

  it('without loadFactor the sticky owner takes every request', async () => {
    const ring = await createRing({ nodes });
    const selector = createSelector(ring);
    const owner = ring.owner('hot')!.id;
    for (let i = 0; i < 10; i++) expect(selector.acquire('hot')!.node.id).toBe(owner);
    expect(selector.load.get(owner)).toBe(10);
  });
});
