import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

describe.each(EXPRESS_VERSIONS)('$name: monitoring routes', ({ express }) => {
  let cluster: Cluster;
  let prefixed: Cluster;
  let mounted: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ express, ids: ['node-a', 'node-b', 'node-c'], membership: MEMORY.cluster().create });
    prefixed = await startCluster({ express, ids: ['node-a'], membership: MEMORY.cluster().create, options: { prefix: '/_ring' } });
    mounted = await startCluster({
      express,
      ids: ['node-a'],
      membership: MEMORY.cluster().create,
      app: (factory, id, rr) => {
        const app = factory();
        app.use('/ops', rr.monitor()); // Express strips the mount path: the routes answer under /ops
        app.use(rr);
        app.use((_req, res) => res.json({ node: id }));
        return app;
      },
    });
  });
  afterAll(async () => {
    await cluster.stop();
    await prefixed.stop();
    await mounted.stop();
  });

  it('GET /route?key= names the owner, the candidates and the epoch', async () => {
    const key = cluster.keyOwnedBy('node-c');
    const res = await fetch(`${cluster.nodes[0]!.url}/route?key=${key}`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      key,
      owner: { id: 'node-c', url: cluster.node('node-c').url },
      local: false,
      epoch: cluster.nodes[0]!.rr.ring!.epoch,
    });
    expect(body.candidates.map((c: { id: string }) => c.id).sort()).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it('GET /api/routes/stats gives per-node shares and the decision counters', async () => {
    const node = cluster.nodes[0]!;
    await fetch(`${node.url}/items?key=${cluster.keyOwnedBy('node-a')}`);
    await fetch(`${node.url}/items?key=${cluster.keyOwnedBy('node-b')}`, { redirect: 'manual' });
    await fetch(`${node.url}/items`);
    const stats = await (await fetch(`${node.url}/api/routes/stats`)).json();
    expect(stats.nodes).toHaveLength(3);
    expect(stats.nodes.reduce((sum: number, n: { share: number }) => sum + n.share, 0)).toBeCloseTo(1, 5);
    expect(stats.counters).toMatchObject({ local: 1, redirect: 1, errors: 1, errorsByReason: { 'missing-key': 1 } });
  });

  it('GET /health and /ready answer 200 once the membership has its ring', async () => {
    const node = cluster.nodes[1]!;
    expect(await (await fetch(`${node.url}/health`)).json()).toEqual({ status: 'ok', self: 'node-b' });
    const ready = await fetch(`${node.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, self: 'node-b' });
  });

  it('GET /metrics is Prometheus text with the decision counters', async () => {
    const node = cluster.nodes[2]!;
    await fetch(`${node.url}/items?key=${cluster.keyOwnedBy('node-c')}`);
    const res = await fetch(`${node.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# TYPE ringroute_decisions_total counter');
    expect(text).toContain('ringroute_decisions_total{node="node-c",action="local"} 1');
  });

  it('serves the routes under the configured prefix, and leaves the unprefixed paths to the app', async () => {
    const { url } = prefixed.nodes[0]!;
    expect((await fetch(`${url}/_ring/health`)).status).toBe(200);
    const unprefixed = await fetch(`${url}/health`);
    expect(unprefixed.status).toBe(400); // an ordinary keyed route of the app now: no key
  });

  it('answers under the path it is mounted on', async () => {
    const { url } = mounted.nodes[0]!;
    expect(await (await fetch(`${url}/ops/health`)).json()).toEqual({ status: 'ok', self: 'node-a' });
    expect((await fetch(`${url}/ops/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(400);
  });
});
