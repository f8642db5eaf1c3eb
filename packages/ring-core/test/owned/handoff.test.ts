import { afterEach, describe, expect, it } from 'vitest';
import { OwnedCluster } from './cluster.js';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `cart-${i}`);

describe('owned state hands keys over on planned ring changes', () => {
  let cluster: OwnedCluster;
  afterEach(() => cluster?.close());

  it('a joining node takes the keys it now owns, pushed in the background; every value arrives once and intact', async () => {
    cluster = new OwnedCluster();
    for (const id of ['a', 'b', 'c']) await cluster.start(id);
    await cluster.settled(3);
    for (const key of keys(600)) await cluster.owner(key).carts.set(key, { items: [key, 'x'] });
    expect(cluster.held()).toBe(600);

    const d = await cluster.start('d');
    await cluster.settled(4);
    const moved = keys(600).filter((key) => cluster.owner(key).id === 'd');
    expect(moved.length).toBeGreaterThan(60);
    for (const key of keys(600)) expect(await cluster.owner(key).carts.get(key)).toEqual({ items: [key, 'x'] });
    expect(cluster.held()).toBe(600);
    const progress = d.router.handoffProgress()!;
    expect(progress.received).toBe(moved.length);
    expect(progress.held.carts).toBe(moved.length);
    const done = ['a', 'b', 'c'].reduce((sum, id) => sum + cluster.nodes.get(id)!.router.handoffProgress()!.done, 0);
    expect(done).toBe(moved.length);
  });
});
