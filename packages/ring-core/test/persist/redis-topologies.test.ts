import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisPersist } from '@ringroute/ring-core/redis';
import { RedisClusterProcesses, SentinelProcesses } from '../redis/topologies.js';
import { persistStoreSuite } from './conformance.js';

// Throwaway deployments started on free ports for this file: nothing to drop, they stop at the end.
const cluster = new RedisClusterProcesses();
const sentinel = new SentinelProcesses();
beforeAll(() => Promise.all([cluster.start(), sentinel.start()]), 60_000);
afterAll(() => Promise.all([cluster.stop(), sentinel.stop()]));

persistStoreSuite('Redis Cluster', async () => ({
  connect: (namespace) => redisPersist({ redis: { nodes: cluster.nodes }, prefix: namespace }),
  servers: 3,
  drop: async () => {},
}));

persistStoreSuite('Redis Sentinel', async () => ({
  connect: (namespace) => redisPersist({ redis: sentinel.options, prefix: namespace }),
  servers: 1,
  drop: async () => {},
}));

describe('redisPersist on a Redis Cluster', () => {
  it('spreads keys over every master (no hash tag), one pipeline per master for a batch; takes your Cluster client', async () => {
    const client = new Cluster(cluster.nodes);
    const store = redisPersist({ redis: client, prefix: 'spread' });
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `cart-${i}`);
      expect(await store.write(keys.map((key) => ({ key, value: new Uint8Array([1]), token: 1 })))).toEqual(keys.map(() => true));
      const masters = client.nodes('master');
      expect(masters.length).toBe(3);
      expect((await Promise.all(masters.map((node) => node.dbsize()))).every((n) => n > 0)).toBe(true);
      // The script is loaded on every master now: one round trip per master.
      const before = store.commands;
      expect(await store.write(keys.map((key) => ({ key, value: new Uint8Array([2]), token: 2 })))).toEqual(keys.map(() => true));
      expect(store.commands - before).toBe(3);
      expect(Array.from((await store.claim('cart-299', 2)).value!)).toEqual([2]);
    } finally {
      await store.close();
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    }
  });
});
