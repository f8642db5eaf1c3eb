import { spawn, type ChildProcess } from 'node:child_process';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute, type RingRouteMiddleware } from '@ringroute/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen, nodeApp } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';

/** A loopback port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const { server, url } = await listen();
  await closeServer(server);
  return Number(new URL(url).port);
}

describe.each(EXPRESS_VERSIONS)('$name: a node that starts before its Redis', ({ express }) => {
  let port: number;
  let redis: ChildProcess | undefined;
  let rr: RingRouteMiddleware;
  let node: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    port = await freePort();
    node = await listen();
    const membership = new RedisMembership({
      redis: `redis://127.0.0.1:${port}`,
      cluster: 'ready-test',
      self: { id: 'node-a', url: node.url },
    });
    rr = ringRoute({ membership, self: 'node-a', key: 'query:key' });
    node.server.on('request', nodeApp(express, 'node-a', rr));
  });
  afterAll(async () => {
    await closeServer(node.server);
    await rr.close();
    redis?.kill('SIGKILL');
  });

  it('answers /ready and keyed requests with 503 + Retry-After until the membership has its first ring, then serves', async () => {
    const ready = await fetch(`${node.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, self: 'node-a' });
    const keyed = await fetch(`${node.url}/items?key=k1`);
    expect(keyed.status).toBe(503);
    expect(keyed.headers.get('retry-after')).toBe('1');
    expect(await keyed.json()).toMatchObject({ reason: 'not-ready' });
    expect((await fetch(`${node.url}/health`)).status).toBe(200);

    // Once Redis is there and the first ring has arrived, it serves.
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redis.once('error', (error) => {
      throw error;
    });
    await rr.ready();
    expect((await fetch(`${node.url}/ready`)).status).toBe(200);
    const served = await fetch(`${node.url}/items?key=k1`);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-node')).toBe('node-a');
  });
});
