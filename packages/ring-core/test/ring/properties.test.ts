import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, isRoutable, type NodeSpec, type NodeStatus, type Ring, type StrategyName } from '@ringroute/ring-core';

const STRATEGIES: StrategyName[] = ['ring', 'maglev', 'rendezvous'];
/** Strategies where a membership change moves only the keys it must (Maglev trades a little of that for balance). */
const MINIMAL_MOVEMENT: StrategyName[] = ['ring', 'rendezvous'];
const STATUSES: NodeStatus[] = ['alive', 'suspected', 'dead', 'leaving', 'updating'];

const ids = (min: number, max: number) => fc.uniqueArray(fc.string({ minLength: 1, maxLength: 10 }), { minLength: min, maxLength: max });
const weight = fc.constantFrom(0.5, 1, 1, 2, 3);
const keys = fc.uniqueArray(fc.string({ maxLength: 24 }), { minLength: 1, maxLength: 60 });
const members = (min: number, max: number) =>
  ids(min, max).chain((list) =>
    fc.tuple(...list.map((id) => fc.record({ id: fc.constant(id), weight, status: fc.constantFrom(...STATUSES) }))),
  );
const aliveMembers = (min: number, max: number) =>
  ids(min, max).chain((list) => fc.tuple(...list.map((id) => fc.record({ id: fc.constant(id), weight }))));

const withShuffle = <T>(list: T[]) =>
  fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));

// Maglev builds a 65537-slot table per ring: keep the run count moderate.
const runs = { numRuns: 25 };
const ownerIds = (ring: Ring, list: string[]) => list.map((key) => ring.owner(key)?.id);

describe.each(STRATEGIES)('%s strategy properties', (strategy) => {
  it('every key maps to a routable node (or none when nothing is routable)', async () => {
    await fc.assert(
      fc.asyncProperty(members(1, 8), keys, async (nodes, list) => {
        const ring = await createRing({ nodes, strategy, vnodes: 40 });
        const anyRoutable = ring.nodes.some(isRoutable);
        for (const key of list) {
          const owner = ring.owner(key);
          if (anyRoutable) expect(owner && isRoutable(owner)).toBe(true);
          else expect(owner).toBeUndefined();
        }
      }),
      runs,
    );
  });

  it('owners(key, n) are distinct, routable, min(n, routable) many, and start with owner(key)', async () => {
    await fc.assert(
      fc.asyncProperty(members(1, 8), keys, fc.integer({ min: 1, max: 10 }), async (nodes, list, n) => {
        const ring = await createRing({ nodes, strategy, vnodes: 40 });
        const routable = ring.nodes.filter(isRoutable).length;
        for (const key of list) {
          const owners = ring.owners(key, n);
          expect(owners.length).toBe(Math.min(n, routable));
          expect(new Set(owners.map((o) => o.id)).size).toBe(owners.length);
          expect(owners.every(isRoutable)).toBe(true);
          expect(owners[0]).toBe(ring.owner(key));
        }
      }),
      runs,
    );
  });

  it('candidates(key) lists every member once, routable ones first, and owners() is its prefix', async () => {
    await fc.assert(
      fc.asyncProperty(members(1, 8), keys, async (nodes, list) => {
        const ring = await createRing({ nodes, strategy, vnodes: 40 });
        for (const key of list) {
          const chain = [...ring.candidates(key)];
          expect(chain.map((n) => n.id).sort()).toEqual(ring.nodes.map((n) => n.id));
          const firstDown = chain.findIndex((n) => !isRoutable(n));
          if (firstDown >= 0) expect(chain.slice(firstDown).some(isRoutable)).toBe(false);
          expect(ring.owners(key, chain.length)).toEqual(chain.filter(isRoutable));
        }
      }),
      runs,
    );
  });

  it('marking a node dead moves only its keys, each to its next candidate', async () => {
    await fc.assert(
      fc.asyncProperty(aliveMembers(2, 8), keys, fc.nat(), async (nodes, list, pick) => {
        const ring = await createRing({ nodes, strategy, vnodes: 40 });
        const victim = ring.nodes[pick % ring.nodes.length]!.id;
        const after = ring.with({ update: [{ id: victim, status: 'dead' }] });
        for (const key of list) {
          const [first, second] = ring.owners(key, 2);
          if (first!.id !== victim) expect(after.owner(key)).toBe(first);
          else expect(after.owner(key)?.id).toBe(second?.id);
        }
      }),
      runs,
    );
  });

  it('rings built from the same members in any order agree on every key and on the checksum', async () => {
    await fc.assert(
      fc.asyncProperty(members(1, 8).chain(withShuffle), keys, async ([nodes, shuffled], list) => {
        const a = await createRing({ nodes, strategy, vnodes: 40 });
        const b = await createRing({ nodes: shuffled, strategy, vnodes: 40 });
        expect(b.checksum).toBe(a.checksum);
        expect(ownerIds(b, list)).toEqual(ownerIds(a, list));
        // Built incrementally through with() or all at once: the same ring.
        const [head, ...rest] = shuffled;
        const grown = (await createRing({ nodes: [head!], strategy, vnodes: 40 })).with({ add: rest });
        expect(grown.checksum).toBe(a.checksum);
        expect(ownerIds(grown, list)).toEqual(ownerIds(a, list));
      }),
      runs,
    );
  });

  it('weight 0 owns nothing, does not throw, and still closes the fallback chain', async () => {
    await fc.assert(
      fc.asyncProperty(aliveMembers(1, 6), keys, async (nodes, list) => {
        const ring = await createRing({ nodes: [...nodes, { id: '\u{10ffff}drain', weight: 0 }], strategy, vnodes: 40 });
        for (const key of list) {
          expect(ring.owner(key)?.id).not.toBe('\u{10ffff}drain');
          expect([...ring.candidates(key)].at(-1)!.id).toBe('\u{10ffff}drain');
        }
      }),
      runs,
    );
  });
});

describe.each(MINIMAL_MOVEMENT)('%s strategy: minimal movement', (strategy) => {
  it('adding a node moves keys only onto the new node', async () => {
    await fc.assert(
      fc.asyncProperty(aliveMembers(1, 8), keys, fc.string({ minLength: 1, maxLength: 10 }), async (nodes, list, id) => {
        fc.pre(!nodes.some((n) => n.id === id));
        const before = await createRing({ nodes, strategy, vnodes: 40 });
        const after = before.with({ add: [{ id }] });
        for (const key of list) {
          const owner = after.owner(key)!.id;
          if (owner !== id) expect(owner).toBe(before.owner(key)!.id);
        }
      }),
      runs,
    );
  });

  it('removing a node moves only its keys', async () => {
    await fc.assert(
      fc.asyncProperty(aliveMembers(2, 8), keys, fc.nat(), async (nodes, list, pick) => {
        const before = await createRing({ nodes, strategy, vnodes: 40 });
        const gone = before.nodes[pick % before.nodes.length]!.id;
        const after = before.with({ remove: [gone] });
        for (const key of list) {
          const owner = before.owner(key)!.id;
          if (owner !== gone) expect(after.owner(key)!.id).toBe(owner);
          else expect(after.owner(key)!.id).not.toBe(gone);
        }
      }),
      runs,
    );
  });
});

describe('maglev movement', () => {
  it('adding an 11th node to 10 moves at most 2.5x the optimal 1/11 of the keys', async () => {
    const nodes = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}` }));
    const before = await createRing({ nodes, strategy: 'maglev' });
    const after = before.with({ add: [{ id: 'node-10' }] });
    const list = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);
    const moved = list.filter((key) => before.owner(key)!.id !== after.owner(key)!.id).length / list.length;
    expect(moved).toBeGreaterThan(0.5 / 11);
    expect(moved).toBeLessThanOrEqual(2.5 / 11);
  });
});

describe('weights give proportional shares', () => {
  const list = Array.from({ length: 30_000 }, (_, i) => `user:${i}`);
  const nodes: NodeSpec[] = [
    { id: 'a', weight: 1 },
    { id: 'b', weight: 2 },
    { id: 'c', weight: 3 },
    { id: 'd', weight: 2 },
  ];
  // Relative tolerance: sampling noise for 30k keys is ~1-2%; the ring adds the spread of its points
  // (about 1/sqrt(points) per node), hence a wider band at 1000 points per unit of weight.
  const cases: [StrategyName, number][] = [
    ['ring', 0.15],
    ['maglev', 0.06],
    ['rendezvous', 0.06],
  ];
  it.each(cases)('%s: each share is within a relative %s of weight / total weight', async (strategy, tolerance) => {
    const ring = await createRing({ nodes, strategy, vnodes: 1000 });
    const counts = new Map<string, number>();
    for (const key of list) {
      const id = ring.owner(key)!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const node of nodes) {
      const expected = node.weight! / 8;
      const share = (counts.get(node.id) ?? 0) / list.length;
      expect(Math.abs(share - expected) / expected).toBeLessThanOrEqual(tolerance);
    }
  });
});
