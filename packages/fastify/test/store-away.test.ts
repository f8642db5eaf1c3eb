import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute } from '@ringroute/fastify';
import { freePort, SpawnedRedis } from '../../ring-core/test/redis/server.js';

/** The default heartbeat: the node must join within one of them once Redis answers. */
const HEARTBEAT = 1000;
/** What a busy 2-core machine may add (scheduling, the poll below). */
const MARGIN = 500;
/**
 * Longer than ioredis keeps a command through reconnects (20 of them, about 10 s with its default delays): before,
 * the start failed then, once, and the node never joined.
 */
const AWAY = 12_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Fastify node started while its Redis is away', () => {
  it('answers /ready 503 naming Redis and its address, logs why once, and joins within a heartbeat of Redis answering', async () => {
    const redis = new SpawnedRedis(await freePort()); // not started yet
    const logs: { level: number; msg: string }[] = [];
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void logs.push(JSON.parse(line)) } } });
    const port = await freePort();
    const self = { id: 'n0', url: `http://127.0.0.1:${port}` };
    const membership = new RedisMembership({ redis: redis.url, cluster: `away-${randomUUID()}`, self, syncInterval: HEARTBEAT });
    // The plugin does not wait for the membership: the app listens while it waits for Redis.
    await app.register(ringRoute, { membership, key: 'query:key' });
    app.get('/doc', async (request) => ({ node: 'n0', owner: request.ringRoute?.owner?.id }));
    await app.listen({ port, host: '127.0.0.1' });
    const get = async (path: string) => {
      const response = await fetch(`${self.url}${path}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      const reason = `waiting for Redis at 127.0.0.1:${redis.port}: connect ECONNREFUSED 127.0.0.1:${redis.port}`;
      await expect.poll(async () => (await get('/ready')).body.reason, { timeout: 5000, interval: 50 }).toBe(reason);
      expect(await get('/ready')).toEqual({ status: 503, body: { ready: false, self: 'n0', reason } });
      expect(await get('/doc?key=k1')).toMatchObject({ status: 503, body: { reason: 'not-ready', message: reason } });
      expect((await get('/health')).status).toBe(200); // liveness: the process is fine, it waits for its store

      await sleep(AWAY);
      expect(await get('/ready')).toEqual({ status: 503, body: { ready: false, self: 'n0', reason } });
      await redis.start();
      const answered = performance.now();
      await expect.poll(async () => (await get('/ready')).status, { timeout: 10_000, interval: 20 }).toBe(200);
      expect(performance.now() - answered).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
      expect(await get('/doc?key=k1')).toEqual({ status: 200, body: { node: 'n0', owner: 'n0' } });
      // Said once, in the app's log, however many times the start was retried.
      expect(logs.filter((line) => line.msg === `ringroute: ${reason}`)).toHaveLength(1);
    } finally {
      await app.close();
      await redis.kill();
    }
  }, 60_000);
});
