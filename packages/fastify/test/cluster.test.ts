import { afterEach, describe, expect, it } from 'vitest';
import { request as undiciRequest } from 'undici';
import { MemoryBus, MemoryMembership, type Membership, type NodeSpec } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';
import type { RingRouteOptions } from '@ringroute/fastify';
import { converge, keyOwnedBy, memoryNodes, nodeSpecs, startNode, streamedBody, type TestNode } from './helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let clusterSeq = 0;

/** Membership factories: one shared bus / one Redis cluster name per test cluster. */
const KINDS = {
  memory: () => {
    const bus = new MemoryBus();
    return (self: NodeSpec): Membership => new MemoryMembership({ bus, self });
  },
  redis: () => {
    const cluster = `fastify-test-${process.pid}-${Date.now()}-${clusterSeq++}`;
    return (self: NodeSpec): Membership => new RedisMembership({ redis: REDIS_URL, cluster, self, syncInterval: 100 });
  },
};

describe.each(Object.keys(KINDS) as (keyof typeof KINDS)[])('3 Fastify nodes sharing a %s membership', (kind) => {
  let nodes: TestNode[] = [];

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
    await Promise.all(nodes.map((n) => n.membership.stop()));
    nodes = [];
  });

  async function cluster(options: Partial<RingRouteOptions> = {}, perNode: (id: string) => Partial<RingRouteOptions> = () => ({})) {
    const specs = await nodeSpecs(3);
    const make = KINDS[kind]();
    nodes = await Promise.all(specs.map(({ spec, port }) => startNode(spec, port, make(spec), { ...options, ...perNode(spec.id) })));
    await converge(
      nodes.map((n) => n.membership),
      ['n0', 'n1', 'n2'],
    );
    return nodes;
  }

  it('redirects a request for a key owned elsewhere (307) to a Location the owner serves', async () => {
    const [n0] = await cluster();
    const key = keyOwnedBy(n0!.membership, 'n1');
    const first = await fetch(`${n0!.spec.url}/doc?key=${key}&x=1`, { redirect: 'manual' });
    expect(first.status).toBe(307);
    const location = first.headers.get('location')!;
    expect(location.startsWith(`${nodes[1]!.spec.url}/doc?key=${key}&x=1&rr_hops=1&rr_epoch=`)).toBe(true);
    const served = await fetch(location);
    expect(served.status).toBe(200);
    const body = await served.json();
    expect(body).toMatchObject({ node: 'n1', key, owner: 'n1', reason: 'owner', query: { key, x: '1' } });
    // fetch following redirects ends at the owner too.
    expect(await (await fetch(`${nodes[2]!.spec.url}/doc?key=${key}`)).json()).toMatchObject({ node: 'n1' });
  });

  it('proxy mode returns the owner response, including a streamed POST body', async () => {
    const [n0] = await cluster({ misroute: 'proxy' });
    const key = keyOwnedBy(n0!.membership, 'n2');
    const get = await fetch(`${n0!.spec.url}/doc?key=${key}`);
    expect(get.status).toBe(200);
    const body = await get.json();
    expect(body).toMatchObject({ node: 'n2', key });
    expect(body.headers).toMatchObject({
      'x-ringroute-hops': '1',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': `127.0.0.1:${n0!.port}`,
    });
    expect(body.headers).not.toHaveProperty('forwarded');
    const size = 3 * 1024 * 1024 + 17;
    const { body: stream, sha256 } = streamedBody(size);
    const post = await fetch(`${n0!.spec.url}/echo?key=${key}`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit);
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ node: 'n2', bytes: size, sha256 });
  });

  it('refuse mode answers 421 naming the owner', async () => {
    const [n0] = await cluster({ misroute: 'refuse' });
    const key = keyOwnedBy(n0!.membership, 'n1');
    const res = await fetch(`${n0!.spec.url}/doc?key=${key}`);
    expect(res.status).toBe(421);
    expect(await res.json()).toMatchObject({
      error: 'Misdirected Request',
      reason: 'not-owner',
      owner: { id: 'n1', url: nodes[1]!.spec.url },
    });
  });

  it('leaves the cluster when the app closes', async () => {
    const [n0] = await cluster();
    await nodes[2]!.app.close();
    await converge([n0!.membership, nodes[1]!.membership], ['n0', 'n1']);
    const key = keyOwnedBy(n0!.membership, 'n1');
    expect((await fetch(`${n0!.spec.url}/doc?key=${key}`, { redirect: 'manual' })).headers.get('location')).toContain(nodes[1]!.spec.url);
  });

  it('admin routes: 401 without a valid token, applied cluster-wide with it', async () => {
    const token = 'fastify-admin-token-0123';
    const [n0] = await cluster({ adminToken: token, prefix: '/ringroute' });
    const pin = (authorization?: string) =>
      fetch(`${n0!.spec.url}/ringroute/api/routes/pins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ key: 'pinned-key', node: 'n2' }),
      });
    expect((await pin()).status).toBe(401);
    expect((await pin('Bearer not-the-token')).status).toBe(401);
    expect((await pin(`Bearer ${token}`)).status).toBe(200);
    await waitForOwner(
      nodes.map((n) => n.membership),
      'pinned-key',
      'n2',
    );
    const res = await fetch(`${nodes[1]!.spec.url}/doc?key=pinned-key`);
    expect(await res.json()).toMatchObject({ node: 'n2' });
  });
});

async function waitForOwner(memberships: Membership[], key: string, id: string) {
  const deadline = Date.now() + 10_000;
  while (!memberships.every((m) => m.ring.owner(key)?.id === id)) {
    if (Date.now() > deadline) throw new Error(`${key} never moved to ${id}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('two nodes with deliberately different rings', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
    nodes = [];
  });

  /** Each node has its own static ring pinning 'loop-key' to the other node. */
  async function disagreeing(misroute: 'redirect' | 'proxy') {
    const specs = await nodeSpecs(2);
    const all = specs.map((s) => s.spec);
    nodes = await Promise.all(
      specs.map(async ({ spec, port }) => {
        const membership = new MemoryMembership({ self: spec, bus: new MemoryBus() });
        await membership.start();
        for (const other of all) if (other.id !== spec.id) await membership.add(other);
        return startNode(spec, port, membership, { misroute, maxHops: 3 });
      }),
    );
    await nodes[0]!.membership.pin('loop-key', 'n1');
    await nodes[1]!.membership.pin('loop-key', 'n0');
  }

  it('redirects end with 508 within maxHops, never looping', async () => {
    await disagreeing('redirect');
    let url = `${nodes[0]!.spec.url}/doc?key=loop-key`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(url, { redirect: 'manual' });
      statuses.push(res.status);
      if (res.status !== 307) break;
      url = res.headers.get('location')!;
    }
    expect(statuses).toEqual([307, 307, 307, 508]);
  });

  it('proxied requests end with 508 within maxHops', async () => {
    await disagreeing('proxy');
    const res = await fetch(`${nodes[0]!.spec.url}/doc?key=loop-key`);
    expect(res.status).toBe(508);
    expect(await res.json()).toMatchObject({ error: 'Loop Detected', reason: 'max-hops', hops: 3, maxHops: 3 });
  });
});

describe('bad input, route config and monitoring', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
    nodes = [];
  });

  const pair = async (options: Partial<RingRouteOptions> = {}) => (nodes = await memoryNodes(2, options));

  it('missing key 400 with the reason, oversized key 414', async () => {
    const [n0] = await pair({ maxKeyLength: 64 });
    const missing = await fetch(`${n0!.spec.url}/doc`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ reason: 'missing-key', message: expect.stringContaining('query parameter "key"') });
    const long = await fetch(`${n0!.spec.url}/doc?key=${'k'.repeat(65)}`);
    expect(long.status).toBe(414);
    expect(await long.json()).toMatchObject({ reason: 'key-too-long', maxKeyLength: 64 });
  });

  it('a hostile Host header or absolute-form target does not reach the Location', async () => {
    const [n0, n1] = await pair();
    const key = keyOwnedBy(n0!.membership, 'n1');
    const res = await undiciRequest(`${n0!.spec.url}/doc?key=${key}`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    await res.body.dump();
    expect(res.statusCode).toBe(307);
    expect(res.headers.location).toMatch(new RegExp(`^${n1!.spec.url}/doc\\?key=${key}&rr_hops=1&rr_epoch=\\d+$`));
    const raw = await rawRequest(
      n0!.port,
      `GET http://evil.example/doc?key=${key} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
    );
    expect(raw).toMatch(new RegExp(`\r\nlocation: ${n1!.spec.url}/doc\\?key=${key}&rr_hops=1`, 'i'));
  });

  it('per-route keys and opting out through route config', async () => {
    const [n0] = await pair();
    const key = keyOwnedBy(n0!.membership, 'n0', 'item');
    expect(await (await fetch(`${n0!.spec.url}/items/${key}`)).json()).toMatchObject({ node: 'n0', key });
    const elsewhere = keyOwnedBy(n0!.membership, 'n1', 'item');
    expect((await fetch(`${n0!.spec.url}/items/${elsewhere}`, { redirect: 'manual' })).status).toBe(307);
    const open = await fetch(`${n0!.spec.url}/open?key=${elsewhere}`);
    expect(await open.json()).toMatchObject({ node: 'n0', key: null });
  });

  it("scope 'opt-in' routes only routes whose config says so", async () => {
    const [n0] = await pair({ scope: 'opt-in' });
    const elsewhere = keyOwnedBy(n0!.membership, 'n1', 'item');
    expect(await (await fetch(`${n0!.spec.url}/doc?key=${elsewhere}`)).json()).toMatchObject({ node: 'n0', key: null });
    expect((await fetch(`${n0!.spec.url}/items/${elsewhere}`, { redirect: 'manual' })).status).toBe(307);
  });

  it('annotates only when enforceRouting is false', async () => {
    const [n0] = await pair({ enforceRouting: false });
    const key = keyOwnedBy(n0!.membership, 'n1');
    expect(await (await fetch(`${n0!.spec.url}/doc?key=${key}`)).json()).toMatchObject({ node: 'n0', owner: 'n1', reason: 'not-enforced' });
  });

  it('monitoring routes: /route, /api/routes/stats, /health, /ready, /metrics', async () => {
    const [n0] = await pair({ prefix: '/rr' });
    const key = keyOwnedBy(n0!.membership, 'n1');
    await fetch(`${n0!.spec.url}/doc?key=${key}`, { redirect: 'manual' });
    await fetch(`${n0!.spec.url}/doc`);
    const route = await (await fetch(`${n0!.spec.url}/rr/route?key=${key}`)).json();
    expect(route).toMatchObject({ key, owner: { id: 'n1' }, local: false, epoch: n0!.membership.ring.epoch });
    expect(route.candidates.map((c: { id: string }) => c.id).sort()).toEqual(['n0', 'n1']);
    const stats = await (await fetch(`${n0!.spec.url}/rr/api/routes/stats`)).json();
    expect(stats.counters).toMatchObject({ redirect: 1, errors: 1, errorsByReason: { 'missing-key': 1 } });
    expect(stats.nodes.map((n: { id: string; share: number }) => [n.id, n.share > 0.2])).toEqual([
      ['n0', true],
      ['n1', true],
    ]);
    expect(await (await fetch(`${n0!.spec.url}/rr/health`)).json()).toMatchObject({ status: 'ok', self: 'n0' });
    expect((await fetch(`${n0!.spec.url}/rr/ready`)).status).toBe(200);
    const metrics = await fetch(`${n0!.spec.url}/rr/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await metrics.text();
    expect(text).toContain('ringroute_decisions_total{node="n0",action="redirect"} 1\n');
    expect(text).toContain('ringroute_errors_total{node="n0",reason="missing-key"} 1\n');
    expect(text).toContain('ringroute_ring_members{node="n0",status="alive"} 2\n');
    // Monitoring routes are never routed themselves.
    expect((await fetch(`${nodes[1]!.spec.url}/rr/route?key=${key}`)).status).toBe(200);
  });

  it('/ready and routed requests answer 503 until the membership has its first ring', async () => {
    const { spec, port } = (await nodeSpecs(1))[0]!;
    // A Redis nobody listens on: the membership never gets its first ring (commands fail fast, so closing is quick).
    const deadRedis = { host: '127.0.0.1', port: (await nodeSpecs(1))[0]!.port, maxRetriesPerRequest: 0 };
    const membership = new RedisMembership({ redis: deadRedis, cluster: 'never', self: spec });
    const node = await startNode(spec, port, membership);
    nodes = [node];
    const ready = await fetch(`${spec.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false });
    const routed = await fetch(`${spec.url}/doc?key=x`);
    expect(routed.status).toBe(503);
    expect(routed.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${spec.url}/health`)).status).toBe(200);
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ connect }) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(text));
      let out = '';
      socket.on('data', (d) => (out += d));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    }, reject);
  });
}
