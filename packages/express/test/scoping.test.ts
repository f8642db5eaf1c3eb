import type { RingRouteMiddleware } from '@ringroute/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS, type ExpressFactory } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

const IDS = ['node-a', 'node-b'];

/** Route-level control: routing only on a mounted router, per-route keys with withKey(), public routes untouched. */
function scopedApp(express: ExpressFactory, id: string, rr: RingRouteMiddleware) {
  const app = express();
  const reply = (req: import('express').Request, res: import('express').Response) =>
    res.set('x-node', id).json({ node: id, key: req.ringRoute?.key, reason: req.ringRoute?.decision.reason });
  app.get('/public', reply);
  app.get('/docs/:id', rr.withKey('params:id'), reply);
  app.get('/sessions', rr.withKey('header:x-session-id'), reply);
  app.get('/carts', rr.withKey('cookie:sid'), reply);
  app.get(
    '/users',
    rr.withKey((req) => (req.query.user as string | undefined)?.toLowerCase()),
    reply,
  );
  const api = express.Router();
  api.use(rr);
  api.get('/items', reply);
  app.use('/api', api);
  return app;
}

describe.each(EXPRESS_VERSIONS)('$name: route-level control', ({ express }) => {
  let cluster: Cluster;
  let annotate: Cluster;
  let permanent: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ express, ids: IDS, membership: MEMORY.cluster().create, app: scopedApp });
    annotate = await startCluster({ express, ids: IDS, membership: MEMORY.cluster().create, options: { enforceRouting: false } });
    permanent = await startCluster({ express, ids: IDS, membership: MEMORY.cluster().create, options: { redirectStatus: 308 } });
  });
  afterAll(async () => {
    await cluster.stop();
    await annotate.stop();
    await permanent.stop();
  });

  const nonOwner = (c: Cluster, key: string) => c.nodes.find((n) => n.id !== c.ownerOf(key).id)!;

  it('leaves routes without the middleware alone', async () => {
    const res = await fetch(`${cluster.nodes[0]!.url}/public`);
    expect(res.status).toBe(200);
    expect((await res.json()).key).toBeUndefined();
  });

  it('routes a router mounted under a path, redirecting to the full original URL', async () => {
    const key = cluster.keyOwnedBy('node-b');
    const res = await fetch(`${cluster.node('node-a').url}/api/items?key=${key}`, { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')!.startsWith(`${cluster.node('node-b').url}/api/items?key=${key}&rr_hops=1`)).toBe(true);
    const followed = await fetch(`${cluster.node('node-a').url}/api/items?key=${key}`);
    expect(await followed.json()).toEqual({ node: 'node-b', key, reason: 'owner' });
  });

  it.each([
    ['a path parameter', (key: string) => [`/docs/${key}`, {}]],
    ['a header', (key: string) => ['/sessions', { 'x-session-id': key }]],
    ['a cookie', (key: string) => ['/carts', { cookie: `theme=dark; sid=${key}` }]],
    ['a key function', (key: string) => [`/users?user=${key.toUpperCase()}`, {}]],
  ] as const)('takes a per-route key from %s and serves it on the owner', async (_, request) => {
    const key = 'doc-42';
    const [path, headers] = request(key);
    const redirect = await fetch(`${nonOwner(cluster, key).url}${path}`, { headers, redirect: 'manual' });
    expect(redirect.status).toBe(307);
    // Followed by hand: fetch drops cookies on a cross-origin redirect.
    const res = await fetch(redirect.headers.get('location')!, { headers });
    expect(await res.json()).toEqual({ node: cluster.ownerOf(key).id, key, reason: 'owner' });
  });

  it('annotates only when enforceRouting is false: handled here, with the owner reported', async () => {
    const key = annotate.keyOwnedBy('node-b');
    const res = await fetch(`${annotate.node('node-a').url}/items?key=${key}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ node: 'node-a', route: { owner: 'node-b', reason: 'not-enforced' } });
  });

  it('redirects with 308 when redirectStatus is 308', async () => {
    const key = permanent.keyOwnedBy('node-a');
    const res = await fetch(`${permanent.node('node-b').url}/items?key=${key}`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')!.startsWith(permanent.node('node-a').url)).toBe(true);
  });
});
