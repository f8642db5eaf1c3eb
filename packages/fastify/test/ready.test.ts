import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createRing, type Membership } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';
import { SpawnedRedis } from '../../ring-core/test/redis/server.js';
import { freePort, nodeSpecs } from './helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NODES = [
  { id: 'a', url: 'http://127.0.0.1:1' },
  { id: 'b', url: 'http://127.0.0.1:2' },
];

const apps: FastifyInstance[] = [];
const memberships: Membership[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(memberships.splice(0).map((m) => m.stop()));
});

/** Pino lines as objects. */
function logLines() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { lines, logger: { level: 'info', stream } };
}

describe.each(['await', 'no await'] as const)('the first requests after start (register with %s)', (form) => {
  const build = async (options: RingRouteOptions, logger: object | false = false) => {
    const app = Fastify({ logger });
    apps.push(app);
    const registered = app.register(ringRoute, options);
    if (form === 'await') await registered;
    app.get('/doc', async (request) => ({ owner: request.ringRoute?.owner?.id }));
    return app;
  };

  it('are routed right after app.ready() with a static node list (the first inject included)', async () => {
    const app = await build({ nodes: NODES, self: 'a', key: 'query:key', misroute: 'refuse' });
    await app.ready();
    const res = await app.inject({ url: '/doc?key=first' });
    // An independent ring, built only now: building it earlier would warm the hash function for the app.
    const owner = (await createRing({ nodes: NODES })).owner('first')!.id;
    expect(res.statusCode, res.body).toBe(owner === 'a' ? 200 : 421);
  });

  it('are routed right after app.listen() with a reachable Redis', async () => {
    const [{ spec, port }] = (await nodeSpecs(1)) as [{ spec: { id: string; url: string }; port: number }];
    const membership = new RedisMembership({ redis: REDIS_URL, cluster: `ready-${randomUUID()}`, self: spec });
    memberships.push(membership);
    const app = await build({ membership, key: 'query:key' });
    await app.listen({ port, host: '127.0.0.1' });
    const [doc, ready] = await Promise.all([fetch(`${spec.url}/doc?key=first`), fetch(`${spec.url}/ready`)]);
    expect(doc.status).toBe(200);
    expect(await doc.json()).toEqual({ owner: spec.id });
    expect(ready.status).toBe(200);
  });

  it('wait at most readyTimeout for a store that does not answer, then start with /ready answering 503', async () => {
    const { lines, logger } = logLines();
    const redis = new SpawnedRedis(await freePort());
    await redis.start();
    redis.pause(); // connections are accepted, nothing is answered: the membership's start waits
    try {
      const membership = new RedisMembership({ redis: redis.url, cluster: `ready-${randomUUID()}`, self: NODES[0]! });
      memberships.push(membership);
      const app = await build({ membership, key: 'query:key', readyTimeout: 300 }, logger);
      await app.ready();
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(503);
      expect((await app.inject({ url: '/doc?key=k' })).json()).toMatchObject({ reason: 'not-ready' });
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringContaining('ringroute: no ring after 300 ms') }));
      redis.resume(); // the store answers: the node joins
      await app.ringRoute.ready();
      expect((await app.inject({ url: '/doc?key=k' })).json()).toEqual({ owner: 'a' });
    } finally {
      redis.resume();
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await redis.kill();
    }
  });
});

it('readyTimeout is validated like every option', async () => {
  const app = Fastify();
  app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:key', readyTimeout: -1 });
  await expect(app.ready()).rejects.toThrow(/^readyTimeout: must be between 0 and 3600000/);
  await app.close();
});
