import { afterEach, describe, expect, it } from 'vitest';
import type { RingRouteMiddleware } from '@ringroute/express';
import { startCluster, until, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS, type ExpressFactory } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

/**
 * A counter per key kept with `rr.state`. `monitor` mounts rr.monitor() (which serves transfers); without it the
 * middleware itself, mounted at the root, takes them. `/local` is not routed: it reaches the state on any node.
 */
const counterApp = (monitor: boolean) => (express: ExpressFactory, id: string, rr: RingRouteMiddleware) => {
  const app = express();
  const hits = rr.state<{ n: number }>('hits');
  if (monitor) app.use(rr.monitor());
  app.get('/local', (req, res, next) => {
    hits.get(String(req.query.key)).then((value) => res.json(value ?? null), next);
  });
  app.use(rr);
  app.post('/hits', (req, res, next) => {
    hits.update(String(req.query.key), (current) => ({ n: (current?.n ?? 0) + 1 })).then((value) => res.json({ node: id, ...value }), next);
  });
  app.get('/hits', (req, res, next) => {
    hits.get(String(req.query.key)).then((value) => res.json({ node: id, n: value?.n ?? 0 }), next);
  });
  return app;
};

describe.each(EXPRESS_VERSIONS)('owned state on $name (rr.state)', ({ express }) => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  const settled = (c: Cluster) => until(() => c.nodes.every((n) => n.rr.router.handoffProgress()?.settled === true), 'settled');

  it.each([true, false])('moves every key to its new owner when a node leaves (transfers through rr.monitor(): %s)', async (monitor) => {
    cluster = await startCluster({
      express,
      ids: ['a', 'b', 'c'],
      membership: MEMORY.cluster().create,
      options: { misroute: 'proxy' },
      app: counterApp(monitor),
    });
    await settled(cluster);
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    for (const key of keys) expect((await fetch(`${cluster.nodes[0]!.url}/hits?key=${key}`, { method: 'POST' })).status).toBe(200);

    const c = cluster.node('c');
    const held = c.rr.router.handoffProgress()!.held.hits!;
    expect(held).toBeGreaterThan(0);
    await c.rr.close(); // hands every key over, then leaves
    expect(c.rr.router.handoffProgress()!.done).toBe(held);
    const rest = cluster.nodes.filter((n) => n.id !== 'c');
    for (const key of keys) expect(await (await fetch(`${rest[0]!.url}/hits?key=${key}`)).json()).toMatchObject({ n: 1 });
  });

  it('a state operation on a node that does not own the key answers 503 with Retry-After', async () => {
    cluster = await startCluster({ express, ids: ['a', 'b'], membership: MEMORY.cluster().create, app: counterApp(true) });
    const key = cluster.keyOwnedBy('b');
    const res = await fetch(`${cluster.node('a').url}/local?key=${key}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });
});
