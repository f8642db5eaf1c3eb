import { describe, expect, it } from 'vitest';
import { analyzeDistribution, createRing, measureMovement } from '@ringroute/ring-core';

const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);

describe('analyzeDistribution', () => {
  it('counts every key once and reports shares, loads and spread against weights', async () => {
    const ring = await createRing({ nodes: [{ id: 'a' }, { id: 'b', weight: 3 }, { id: 'c', status: 'dead' }], strategy: 'rendezvous' });
    const d = analyzeDistribution(ring, keys);
    expect(d.keys).toBe(20_000);
    expect(d.unowned).toBe(0);
    expect(d.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(d.nodes.reduce((sum, n) => sum + n.count, 0)).toBe(20_000);
    const [a, b] = d.nodes;
    expect(a!.count).toBe(keys.filter((k) => ring.owner(k)!.id === 'a').length);
    expect(a!.expectedShare).toBe(0.25);
    expect(b!.expectedShare).toBe(0.75);
    expect(a!.share + b!.share).toBeCloseTo(1, 12);
    expect(a!.load).toBeCloseTo(a!.share / 0.25, 12);
    expect(d.maxLoad).toBe(Math.max(a!.load, b!.load));
    expect(d.minLoad).toBe(Math.min(a!.load, b!.load));
    const mean = (a!.load + b!.load) / 2;
    expect(d.stdDev).toBeCloseTo(Math.sqrt(((a!.load - mean) ** 2 + (b!.load - mean) ** 2) / 2), 12);
    expect(d.maxLoad).toBeLessThan(1.05);
  });

  it('a ring with nothing routable leaves every key unowned', async () => {
    const ring = await createRing({ nodes: [{ id: 'a', status: 'dead' }] });
    expect(analyzeDistribution(ring, keys.slice(0, 10))).toEqual({ keys: 10, unowned: 10, nodes: [], maxLoad: 0, minLoad: 0, stdDev: 0 });
  });
});

describe('measureMovement', () => {
  it('adding a node moves about 1/(n+1) of the keys, all onto the new node', async () => {
    const before = await createRing({ nodes: Array.from({ length: 9 }, (_, i) => ({ id: `n${i}` })), vnodes: 1000 });
    const after = before.with({ add: [{ id: 'n9' }] });
    const m = measureMovement(before, after, keys);
    expect(m.keys).toBe(20_000);
    expect(m.moved).toBe(keys.filter((k) => before.owner(k)!.id !== after.owner(k)!.id).length);
    expect(m.fraction).toBe(m.moved / 20_000);
    expect(m.to).toEqual({ n9: m.moved });
    expect(Object.values(m.from).reduce((s, c) => s + c, 0)).toBe(m.moved);
    expect(m.fraction).toBeGreaterThan(0.08);
    expect(m.fraction).toBeLessThan(0.12);
  });

  it('the same ring moves nothing; losing every owner moves everything', async () => {
    const ring = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }] });
    expect(measureMovement(ring, ring, keys).moved).toBe(0);
    const down = ring.with({
      update: [
        { id: 'a', status: 'dead' },
        { id: 'b', status: 'dead' },
      ],
    });
    const m = measureMovement(ring, down, keys.slice(0, 100));
    expect(m).toMatchObject({ keys: 100, moved: 100, fraction: 1, to: {} });
  });
});
