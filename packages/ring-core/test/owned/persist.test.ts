import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { redisPersist } from '@ringroute/ring-core/redis';
import { StateUnavailableError } from '@ringroute/ring-core/owned';
import { REDIS_URL } from '../redis/server.js';
import { dropRedisPrefix } from '../persist/servers.js';
import { OwnedCluster } from './cluster.js';

const prefix = `test:owned-persist:${randomUUID().slice(0, 8)}`;
const keys = (n: number) => Array.from({ length: n }, (_, i) => `cart-${i}`);

describe('owned state with persist (a real Redis store)', () => {
  let cluster: OwnedCluster;
  afterEach(() => cluster?.close());
  afterAll(() => dropRedisPrefix(prefix));

  /** Nodes a, b, c, each with a store of its own on the same Redis, holding `count` carts. */
  async function persisted(write: 'through' | 'behind', count: number) {
    cluster = new OwnedCluster(() => ({
      persist: { store: redisPersist({ redis: REDIS_URL, prefix }), write, ...(write === 'behind' ? { flushWithin: 60_000 } : {}) },
    }));
    for (const id of ['a', 'b', 'c']) await cluster.start(id);
    await cluster.settled(3);
    const all = keys(count).map((key) => `${write}-${key}`);
    for (const key of all) await cluster.owner(key).carts.set(key, { items: [key] });
    return all;
  }

  it('a node that stops without handing over (as a crash would): its successors load its keys from the store', async () => {
    const all = await persisted('through', 200);
    const b = cluster.nodes.get('b')!;
    const fromB = all.filter((key) => b.membership.ring.owner(key)?.id === 'b');
    await b.router.owned().close(false); // no handoff: nothing moves but what the store has
    await new Promise((resolve) => b.server.close(resolve));
    cluster.nodes.delete('b');
    await b.membership.stop();
    await cluster.settled(2);
    for (const key of all) expect(await cluster.owner(key).carts.get(key)).toEqual({ items: [key] });
    const loaded = [...cluster.nodes.values()].reduce((sum, n) => sum + n.router.handoffProgress()!.loaded, 0);
    expect(loaded).toBe(fromB.length);
  });

  it('a write the store refuses (a newer owner claimed the key) fails with 503 and the node drops its copy', async () => {
    const [key] = await persisted('through', 1);
    const owner = cluster.owner(key!);
    const token = owner.router.handoffProgress()!.token;
    const newer = redisPersist({ redis: REDIS_URL, prefix });
    try {
      expect((await newer.claim(`carts:${key}`, token + 10)).fenced).toBe(false);
    } finally {
      await newer.close();
    }
    const error = await owner.carts.set(key!, { items: ['late'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateUnavailableError);
    expect(error).toMatchObject({ statusCode: 503, reason: 'lost' });
    expect(owner.router.handoffProgress()!.dropped).toBe(1);
    expect(owner.router.handoffProgress()!.held.carts).toBe(0);
  });

  it("'behind': a key is flushed before it is handed over, so the new owner and the store agree", async () => {
    const all = await persisted('behind', 300);
    for (const key of all) await cluster.owner(key).carts.update(key, (cart) => ({ items: [...cart!.items, 'second'] }));
    const d = await cluster.start('d');
    await cluster.settled(4);
    const moved = all.filter((key) => d.membership.ring.owner(key)?.id === 'd');
    expect(moved.length).toBeGreaterThan(0);
    for (const key of all) expect(await cluster.owner(key).carts.get(key)).toEqual({ items: [key, 'second'] });
    // The moved keys' latest values were flushed by their old owners before they went (flushWithin is a minute).
    const redis = new Redis(REDIS_URL);
    try {
      for (const key of moved) expect(JSON.parse((await redis.hget(`${prefix}:carts:${key}`, 'v'))!)).toEqual({ items: [key, 'second'] });
    } finally {
      redis.disconnect();
    }
  });
});
