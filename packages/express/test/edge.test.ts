import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { ringRoute, type RingRouteMiddleware } from '@ringroute/express';
import { EdgeWriter, haproxyReloader, renderHaproxy } from '@ringroute/ring-core/edge';
import { RedisMembership } from '@ringroute/ring-core/redis';
import type { Membership, NodeSpec } from '@ringroute/ring-core';
import { freePort } from '../../ring-core/test/redis/harness.js';
import { sendDocs, tally } from '../../ring-core/test/edge/delivery.js';
import { startHaproxy, type Proxy } from '../../ring-core/test/edge/proxies.js';
import { closeServer, listen, REDIS_URL, until } from './helpers/cluster.js';

// Real HAProxy in front of three real Express nodes that refuse (421) any request they do not own, with the
// backend generated from the Redis membership: every keyed request must reach its owner. Then a fourth node
// joins; the writer rewrites the backend and reloads HAProxy once through its master CLI, and requests reach
// owners again. Keys carry non-ASCII characters: HAProxy decodes url_param with url_dec, as the adapter does.

const KEY = 'query:doc';
const keys = (count: number, salt: string) => Array.from({ length: count }, (_, i) => `doc été ${salt}-${i}`);
const send = (front: number, docs: string[]) => sendDocs(front, docs, 16);

describe('HAProxy in front of Express with strategy haproxy and a generated backend', () => {
  const cluster = `edge-haproxy-${randomUUID()}`;
  const memberships: Membership[] = [];
  const nodes: { server: import('node:http').Server; rr: RingRouteMiddleware }[] = [];
  let proxy: Proxy | undefined;
  let writer: EdgeWriter | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    await writer?.stop();
    await proxy?.stop();
    await Promise.all(nodes.map((n) => closeServer(n.server)));
    await Promise.all(nodes.map((n) => n.rr.close()));
    await Promise.all(memberships.map((m) => m.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    await redis.del(`ringroute:${cluster}`).finally(() => redis.disconnect());
  });

  const member = (self?: NodeSpec) => {
    const membership = new RedisMembership({
      redis: REDIS_URL,
      cluster,
      strategy: 'haproxy',
      syncInterval: 200,
      ...(self ? { self } : {}),
    });
    memberships.push(membership);
    return membership;
  };

  async function startNode(id: string, serverId: number) {
    const { server, url } = await listen();
    const rr = ringRoute({ membership: member({ id, url, serverId }), key: KEY, misroute: 'refuse' });
    // A lean app (no monitor routes, no header echo): the client, three or four servers and the test share one thread.
    const app = express();
    app.use(rr);
    app.get('/doc', (_req, res) => {
      res.json({ node: id });
    });
    server.on('request', app);
    nodes.push({ server, rr });
    await rr.ready();
  }

  const members = (membership: Membership) => (membership.ready ? membership.ring.nodes.map((n) => n.id).join(',') : '');

  it('delivers 10,000 keyed requests to their owners, then stops misrouting within one reload after a join', async () => {
    for (const [i, id] of ['n0', 'n1', 'n2'].entries()) await startNode(id, i + 1);
    const observer = member();
    await observer.start();
    await until(() => [observer, ...memberships].every((m) => members(m) === 'n0,n1,n2'), 'three members everywhere');

    dir = await mkdtemp(join(tmpdir(), 'ringroute-edge-'));
    const backend = join(dir, 'backend.cfg');
    const options = { name: 'app', key: KEY };
    await writeFile(backend, renderHaproxy(observer.ring, options));
    const front = await freePort();
    proxy = await startHaproxy(`frontend main\n  bind 127.0.0.1:${front}\n  default_backend app\n`, [front], [backend]);
    writer = new EdgeWriter(observer, {
      ...options,
      proxy: 'haproxy',
      file: backend,
      reload: haproxyReloader((proxy as Proxy & { master: string }).master),
    });
    await writer.start();
    // The file already holds this ring's config: no write, no reload.
    expect(writer.stats).toEqual({ writes: 0, reloads: 0, failures: 0, kept: 0 });
    const reloads = 0;

    const steady = keys(10_000, 'a');
    expect(tally(steady, await send(front, steady), observer)).toEqual({ requests: 10_000, misrouted: 0, wrong: 0 });

    // n3 joins while the writer is paused, so the edge lags on purpose: keys n3 now owns still go to their old
    // owners, which refuse them (421). That is what the reload has to end.
    await writer.stop();
    await startNode('n3', 4);
    await until(() => memberships.every((m) => members(m) === 'n0,n1,n2,n3'), 'four members everywhere');
    const lagging = keys(1_000, 'lag');
    const stale = tally(lagging, await send(front, lagging), observer);
    expect(stale.misrouted).toBe(lagging.filter((doc) => observer.ring.owner(doc)?.id === 'n3').length);
    expect(stale.misrouted).toBeGreaterThan(0);
    expect(stale.wrong).toBe(0);

    await writer.start(); // one write, one reload
    expect(writer.stats.reloads).toBe(reloads + 1);
    // The master forks a new worker; wait until it answers (a key n3 now owns reaches n3).
    const moved = keys(200, 'probe').find((doc) => observer.ring.owner(doc)?.id === 'n3')!;
    const deadline = Date.now() + 10_000;
    while ((await send(front, [moved]))[0]!.node !== 'n3')
      if (Date.now() > deadline) throw new Error('HAProxy never served the new backend');
    await proxy.settled(); // the old worker, which still routes by the old config, has exited

    const after = keys(2_000, 'b');
    expect(tally(after, await send(front, after), observer)).toEqual({ requests: 2_000, misrouted: 0, wrong: 0 });
    expect(writer.stats).toMatchObject({ reloads: reloads + 1, failures: 0 });
  }, 60_000);
});
