import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute, type RingRouteMiddleware } from '@ringroute/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen, nodeApp } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';
import { freePort, SpawnedRedis } from '../../ring-core/test/redis/server.js';

/** The default heartbeat: the node joins within one of them once Redis answers; plus what a busy machine may add. */
const HEARTBEAT = 1000;
const MARGIN = 500;
/** How long Redis stays away after the node started. */
const AWAY = 3000;

describe.each(EXPRESS_VERSIONS)('$name: a node that starts before its Redis', ({ express }) => {
  let redis: SpawnedRedis;
  let rr: RingRouteMiddleware;
  let node: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    redis = new SpawnedRedis(await freePort()); // not started yet
    node = await listen();
    const membership = new RedisMembership({
      redis: redis.url,
      cluster: 'ready-test',
      self: { id: 'node-a', url: node.url },
    });
    rr = ringRoute({ membership, self: 'node-a', key: 'query:key' });
    node.server.on('request', nodeApp(express, 'node-a', rr));
  });
  afterAll(async () => {
    await closeServer(node.server);
    await rr.close();
    await redis.kill();
  });

  // One scenario (the second half needs the first): every test of the file runs alone too.
  it('answers /ready and keyed requests with 503 + Retry-After naming Redis and its address, then joins within a heartbeat of Redis answering', async () => {
    const reason = `waiting for Redis at 127.0.0.1:${redis.port}: connect ECONNREFUSED 127.0.0.1:${redis.port}`;
    const body = async () => (await (await fetch(`${node.url}/ready`)).json()) as { reason?: string };
    await expect.poll(async () => (await body()).reason, { timeout: 5000, interval: 50 }).toBe(reason);
    const ready = await fetch(`${node.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, self: 'node-a', reason });
    const keyed = await fetch(`${node.url}/items?key=k1`);
    expect(keyed.status).toBe(503);
    expect(keyed.headers.get('retry-after')).toBe('1');
    expect(await keyed.json()).toMatchObject({ reason: 'not-ready', message: reason });
    expect((await fetch(`${node.url}/health`)).status).toBe(200);

    await new Promise((r) => setTimeout(r, AWAY));
    expect((await fetch(`${node.url}/ready`)).status).toBe(503);
    await redis.start();
    const answered = performance.now();
    await expect.poll(async () => (await fetch(`${node.url}/ready`)).status, { timeout: 10_000, interval: 20 }).toBe(200);
    expect(performance.now() - answered).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
    await rr.ready();
    const served = await fetch(`${node.url}/items?key=k1`);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-node')).toBe('node-a');
  });
});
