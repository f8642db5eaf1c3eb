import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership } from '@ringroute/ring-core';
import { createRouter } from '@ringroute/ring-core/http';
import { redisPersist } from '@ringroute/ring-core/redis';
import { OwnedCluster } from '../owned/cluster.js';
import { REDIS_URL, requireRedis } from '../redis/server.js';
import { dropRedisPrefix } from './servers.js';

// The seam with the owned-state engine: `state.persist` becomes a Persister whose store holds `<state>:<key>`.
describe('owned state with state.persist', () => {
  let redis: Redis;
  const prefix = `test:persist-engine:${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    redis = await requireRedis();
  });
  afterAll(async () => {
    await dropRedisPrefix(prefix);
    redis.disconnect();
  });

  it("'through': a set is in the store, under the node's token, before it resolves; a delete keeps the token", async () => {
    const cluster = new OwnedCluster({ persist: { store: redisPersist({ redis: REDIS_URL, prefix }), write: 'through' } });
    try {
      const node = await cluster.start('a');
      await node.carts.set('cart-1', { items: ['book'] });
      const token = node.router.handoffProgress()!.token;
      expect(token).toBeGreaterThan(0);
      expect(await redis.hgetall(`${prefix}:carts:cart-1`)).toEqual({ t: String(token), v: JSON.stringify({ items: ['book'] }) });
      await node.carts.delete('cart-1');
      expect(await redis.hgetall(`${prefix}:carts:cart-1`)).toEqual({ t: String(token) });
    } finally {
      await cluster.close();
    }
  });

  it("'behind': the latest value is in the store once the node closes", async () => {
    const cluster = new OwnedCluster({
      persist: { store: redisPersist({ redis: REDIS_URL, prefix }), write: 'behind', flushWithin: 60_000 },
    });
    const node = await cluster.start('a');
    for (let i = 1; i <= 5; i++) await node.carts.set('cart-2', { items: Array.from({ length: i }, (_, n) => `item-${n}`) });
    expect(await redis.hget(`${prefix}:carts:cart-2`, 'v')).toBeNull(); // claimed at first use, no value yet
    await cluster.close();
    expect(JSON.parse((await redis.hget(`${prefix}:carts:cart-2`, 'v'))!)).toEqual({
      items: ['item-0', 'item-1', 'item-2', 'item-3', 'item-4'],
    });
  });

  it('option errors name state.persist.*', () => {
    const membership = new MemoryMembership({ bus: new MemoryBus(), self: { id: 'a', url: 'http://127.0.0.1:1' } });
    const store = redisPersist({ redis: REDIS_URL, prefix });
    const router = (persist: unknown) => () => createRouter({ membership, key: 'query:key', state: { persist } }).owned();
    try {
      expect(router({ store, write: 'later' })).toThrow(/^state\.persist\.write: must be one of "through", "behind"/);
      expect(router({ store, write: 'through', flushWithin: 10 })).toThrow(/^state\.persist\.flushWithin: applies to write: 'behind' only/);
      expect(router({ write: 'behind' })).toThrow(/^state\.persist\.store: must be a PersistStore/);
    } finally {
      void store.close();
    }
  });
});
