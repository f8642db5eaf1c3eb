import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { redisPersist } from '@ringroute/ring-core/redis';
import { freePort, REDIS_URL, requireRedis, SpawnedRedis } from '../redis/server.js';
import { persistStoreSuite } from './conformance.js';
import { dropRedisPrefix } from './servers.js';

const prefixOf = (namespace: string) => `test:persist:${namespace}`;

// The machine's shared Redis: every check writes under a prefix of its own and deletes it afterwards.
persistStoreSuite('Redis standalone', async () => {
  (await requireRedis()).disconnect();
  return {
    connect: (namespace) => redisPersist({ redis: REDIS_URL, prefix: prefixOf(namespace) }),
    servers: 1,
    drop: (namespace) => dropRedisPrefix(prefixOf(namespace)),
  };
});

describe('redisPersist', () => {
  let redis: Redis;
  const prefix = prefixOf(`specifics-${randomUUID().slice(0, 8)}`);
  beforeAll(async () => {
    redis = await requireRedis();
  });
  afterAll(async () => {
    await dropRedisPrefix(prefix);
    redis.disconnect();
  });

  it('keeps each key in the hash <prefix>:<key>: field t holds the token, v the value (absent once deleted)', async () => {
    const store = redisPersist({ redis: REDIS_URL, prefix });
    try {
      await store.write([{ key: 'cart-7', value: new TextEncoder().encode('{"items":1}'), token: 42 }]);
      expect(await redis.hgetall(`${prefix}:cart-7`)).toEqual({ t: '42', v: '{"items":1}' });
      await store.write([{ key: 'cart-7', value: null, token: 43 }]);
      expect(await redis.hgetall(`${prefix}:cart-7`)).toEqual({ t: '43' });
      await store.claim('claimed-only', 9);
      expect(await redis.hgetall(`${prefix}:claimed-only`)).toEqual({ t: '9' });
    } finally {
      await store.close();
    }
  });

  it('sends a script again when the server lost it (restart, failover, SCRIPT FLUSH): one more round trip, same results', async () => {
    const server = new SpawnedRedis(await freePort());
    await server.start();
    const store = redisPersist({ redis: server.url });
    const admin = new Redis(server.url);
    try {
      const value = new TextEncoder().encode('v');
      expect(await store.write([{ key: 'k', value, token: 1 }])).toEqual([true]);
      expect((await store.claim('k', 2)).fenced).toBe(false);
      const warm = store.commands;
      await store.write([{ key: 'k', value, token: 2 }]);
      expect(store.commands - warm).toBe(1);
      await admin.script('FLUSH');
      const before = store.commands;
      expect(await store.write([{ key: 'k', value, token: 1 }])).toEqual([false]);
      expect(store.commands - before).toBe(2);
      await admin.script('FLUSH');
      expect(await store.claim('k', 1)).toEqual({ value: null, fenced: true });
      expect(store.commands - before).toBe(4);
    } finally {
      await store.close();
      admin.disconnect();
      await server.kill();
    }
  });

  it('leaves a client you pass open on close(), and closes the one it created', async () => {
    const client = new Redis(REDIS_URL);
    const yours = redisPersist({ redis: client, prefix });
    const ours = redisPersist({ redis: REDIS_URL, prefix });
    await Promise.all([yours.claim('open', 1), ours.claim('open', 1)]);
    await Promise.all([yours.close(), ours.close()]);
    expect(await client.ping()).toBe('PONG');
    await expect(ours.claim('open', 1)).rejects.toThrow(/Connection is closed/);
    client.disconnect();
  });

  it('refuses bad options, naming them', () => {
    const options = (value: unknown) => value as Parameters<typeof redisPersist>[0];
    expect(() => redisPersist(options(undefined))).toThrow(RingRouteConfigError);
    expect(() => redisPersist(options({}))).toThrow(/^redis: must be a Redis URL/);
    expect(() => redisPersist(options({ redis: 'http://localhost' }))).toThrow(/^redis: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => redisPersist(options({ redis: REDIS_URL, prefix: '' }))).toThrow(/^prefix: must not be empty/);
    expect(() => redisPersist(options({ redis: REDIS_URL, prefx: 'x' }))).toThrow(/^prefx: unknown option \(did you mean `prefix`\?\)/);
  });
});
