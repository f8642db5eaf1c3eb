import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { ringRoute } from '@ringroute/fastify';
import { keyOwnedBy, memoryNodes, nodeSpecs, startNode, waitFor, type TestNode } from './helpers.js';

const NODES = [{ id: 'a', url: 'http://127.0.0.1:1' }];
let nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.app.close()));
  await Promise.all(nodes.map((n) => n.membership.stop()));
  nodes = [];
});

const configError = async (options: object) => {
  const app = Fastify();
  app.register(ringRoute, options as never);
  const error = await app.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  await app.close().catch(() => undefined);
  expect(error).toBeInstanceOf(RingRouteConfigError);
  return error as RingRouteConfigError;
};

/** GET through node:http, which shows every response header as sent. */
const rawGet = (url: string) =>
  new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    httpRequest(url, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });

describe('options', () => {
  it('refuses unknown options, suggesting the closest valid one', async () => {
    const error = await configError({ nodes: NODES, self: 'a', key: 'query:k', misrout: 'proxy' });
    expect(error.option).toBe('misrout');
    expect(error.message).toContain('did you mean `misroute`?');
    expect((await configError({ nodes: NODES, self: 'a', key: 'query:k', scpoe: 'all' })).message).toContain('did you mean `scope`?');
    const nested = await configError({ nodes: NODES, self: 'a', key: 'query:k', healthCheck: { backoff: 2 } });
    expect(nested.option).toBe('healthCheck.backoff');
    expect(nested.message).toContain('did you mean `backoffMultiplier`?');
    expect((await configError({ nodes: NODES, self: 'a', key: 'query:k', ejection: { probes: 'tcp' } })).option).toBe('ejection.probes');
  });

  it('explains an empty node list and a missing key source', async () => {
    expect((await configError({ nodes: [], self: 'a', key: 'query:k' })).message).toMatch(/^nodes: must list at least one node/);
    const missing = await configError({ nodes: NODES, self: 'a' });
    expect(missing.option).toBe('key');
    expect(missing.message).toContain('is required');
  });

  it('validates proxyTimeouts like every option, and answers 503 when a hung owner does not answer within proxyTimeouts.response', async () => {
    expect((await configError({ nodes: NODES, self: 'a', key: 'query:k', proxyTimeouts: { response: 0 } })).option).toBe(
      'proxyTimeouts.response',
    );
    expect((await configError({ nodes: NODES, self: 'a', key: 'query:k', proxyTimeouts: { respons: 5 } })).message).toContain(
      'did you mean `response`?',
    );
    // An owner that accepts the connection and never answers.
    const accepted: import('node:net').Socket[] = [];
    const hung = createServer((socket) => void accepted.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const [self] = await nodeSpecs(1);
    const app = Fastify();
    await app.register(ringRoute, {
      nodes: [self!.spec, { id: 'hung', url: `http://127.0.0.1:${(hung.address() as AddressInfo).port}` }],
      self: self!.spec.id,
      key: 'query:k',
      misroute: 'proxy',
      proxyTimeouts: { response: 300 },
    });
    app.get('/doc', async () => 'here');
    await app.listen({ port: self!.port, host: '127.0.0.1' });
    await app.ringRoute.ready();
    const started = performance.now();
    const res = await fetch(`${self!.spec.url}/doc?k=${keyOwnedBy(app.ringRoute.membership, 'hung')}`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ reason: 'proxy-failed', tried: ['hung'] });
    expect(performance.now() - started).toBeLessThan(5000);
    await app.close();
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => hung.close(() => resolve()));
  });

  it('exposes ready() on the decoration, resolving with the first ring', async () => {
    const app = Fastify();
    await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:k' });
    await app.ringRoute.ready();
    expect(app.ringRoute.ring?.nodes.map((n) => n.id)).toEqual(['a']);
    await app.close();
  });
});

describe('monitoring routes and the app', () => {
  it('a collision with an app route is a RingRouteConfigError naming the route and `prefix`, either order', async () => {
    const before = Fastify();
    before.get('/health', async () => 'mine');
    before.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:k' });
    const error = await before.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RingRouteConfigError);
    expect((error as RingRouteConfigError).option).toBe('prefix');
    expect((error as Error).message).toContain('GET /health');
    await before.close().catch(() => undefined);

    const after = Fastify();
    await after.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:k' });
    expect(() => after.get('/metrics', async () => 'mine')).toThrow(/GET \/metrics .*`prefix`/);
    await after.close();
  });

  it('with a prefix, the app keeps its own /health and /metrics', async () => {
    const app = Fastify();
    app.get('/health', { config: { ringRoute: false } }, async () => ({ mine: true }));
    await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:k', prefix: '/rr' });
    app.get('/metrics', { config: { ringRoute: false } }, async () => 'app metrics');
    expect((await app.inject('/health')).json()).toEqual({ mine: true });
    expect((await app.inject('/metrics')).body).toBe('app metrics');
    expect((await app.inject('/rr/health')).json()).toEqual({ status: 'ok', self: 'a' });
    await app.close();
  });
});

describe('prom-client', () => {
  it("puts the ringroute_ metrics into the app's registry, beside the app's own", async () => {
    const registry = new Registry();
    const mine = new Counter({ name: 'app_requests_total', help: 'app', registers: [registry] });
    const app = Fastify();
    await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:k', registry });
    app.get('/x', async () => {
      mine.inc();
      return 'ok';
    });
    await app.ringRoute.ready();
    expect((await app.inject('/x?k=1')).statusCode).toBe(200);
    const text = await registry.metrics();
    expect(text).toContain('app_requests_total 1');
    expect(text).toContain('ringroute_decisions_total{node="a",action="local"} 1');
    expect(text).toContain('ringroute_ring_members{node="a",status="alive"} 1');
    expect(text).toContain('# TYPE ringroute_proxy_duration_seconds histogram');
    expect(text).toContain('ringroute_misrouted_total{node="a"} 0');
    expect((await app.inject('/metrics')).body).toContain('app_requests_total 1');
    await app.close();
  });
});

describe('proxying cluster', () => {
  it('answers 400 to malformed percent-encoding, 431 to an over-long header key, and counts misrouted requests', async () => {
    nodes = await memoryNodes(2, { misroute: 'proxy' });
    const [n0] = nodes;
    const key = keyOwnedBy(n0!.membership, 'n1');
    const bad = await fetch(`${n0!.spec.url}/doc?key=${key}&q=%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ reason: 'bad-request' });
    expect((await fetch(`${n0!.spec.url}/doc?key=${key}`)).status).toBe(200);
    expect(n0!.app.ringRoute.stats().misrouted).toBe(2);
    expect(await n0!.app.ringRoute.router.metrics.registry.metrics()).toContain('ringroute_misrouted_total{node="n0"} 2');

    const app = Fastify();
    await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'header:x-k' });
    await app.ringRoute.ready();
    app.get('/', async () => 'ok');
    const long = await app.inject({ url: '/', headers: { 'x-k': 'k'.repeat(600) } });
    expect(long.statusCode).toBe(431);
    expect(long.json()).toMatchObject({ reason: 'key-too-long' });
    await app.close();
  });

  it("drops hop-by-hop headers of the owner's response", async () => {
    // A raw owner: Node's own server would rewrite Keep-Alive itself.
    const owner = createServer((socket) =>
      socket.once('data', () =>
        socket.end(
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=99\r\nX-Hop: 1\r\nX-End: kept\r\n\r\nok',
        ),
      ),
    );
    await new Promise<void>((resolve) => owner.listen(0, '127.0.0.1', resolve));
    const { port, spec } = (await nodeSpecs(1))[0]!;
    const app = Fastify();
    const ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
    await app.register(ringRoute, { nodes: [spec, { id: 'raw', url: ownerUrl }], self: spec.id, key: 'query:key', misroute: 'proxy' });
    app.get('/hop', async () => 'served here');
    await app.ringRoute.ready();
    await app.listen({ port, host: '127.0.0.1' });
    try {
      let key = '';
      for (let i = 0; !key; i++) if (app.ringRoute.ring!.owner(`k${i}`)?.id === 'raw') key = `k${i}`;
      const proxied = await rawGet(`${spec.url}/hop?key=${key}`);
      expect(proxied.status).toBe(200);
      expect(proxied.headers['x-end']).toBe('kept');
      expect(proxied.headers['x-hop']).toBeUndefined();
      expect(proxied.headers['keep-alive']).not.toBe('timeout=99');
    } finally {
      await app.close();
      owner.close();
    }
  });

  it('admin add-node validates ids and URLs as options do', async () => {
    const token = 'admin-token-0123456789';
    nodes = await memoryNodes(1, { adminToken: token });
    const add = (body: unknown) =>
      fetch(`${nodes[0]!.spec.url}/api/routes/nodes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const body of [
      { id: '__proto__', url: 'http://127.0.0.1:9' },
      { id: 'x'.repeat(100_007) },
      { id: 'evil', url: 'javascript:alert(1)' },
      { id: 'ctl\u0001' },
    ]) {
      const res = await add(body);
      expect(res.status).toBe(400);
      expect((await res.json()).option).toMatch(/^node\.(id|url)$/);
    }
    expect(nodes[0]!.membership.ring.nodes.map((n) => n.id)).toEqual(['n0']);
    expect((await add({ id: 'n9', url: 'https://n9.example' })).status).toBe(201);
  });

  it('ejects an owner after consecutive connection failures, skips it (even for a POST), and takes it back after a probe', async () => {
    const options = { misroute: 'proxy' as const, leaveOnClose: false, ejection: { failures: 2, backoff: 200 } };
    nodes = await memoryNodes(3, options);
    const [n0, n1] = nodes;
    const key = keyOwnedBy(n0!.membership, 'n1');
    await n1!.app.close(); // its port now refuses connections; the membership still says alive
    const post = () =>
      fetch(`${n0!.spec.url}/echo?key=${key}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'hello' });

    expect((await post()).status).toBe(503); // a POST is never retried once sent
    const get = await fetch(`${n0!.spec.url}/doc?key=${key}`);
    expect(get.status).toBe(200); // a GET moves on to the next candidate
    expect((await get.json()).node).not.toBe('n1');
    expect(n0!.app.ringRoute.stats().ejection).toEqual({ ejections: 1, ejected: ['n1'] });
    expect(await n0!.app.ringRoute.router.metrics.registry.metrics()).toContain('ringroute_ejections_total{node="n0"} 1');

    const skipped = await post(); // nothing is sent to an ejected owner: the next candidate takes even a POST
    expect(skipped.status).toBe(200);
    expect(await skipped.json()).toMatchObject({ bytes: 5 });

    nodes[1] = await startNode(n1!.spec, n1!.port, n1!.membership, options);
    await waitFor(() => n0!.app.ringRoute.stats().ejection.ejected.length === 0, 'the probe to bring n1 back');
    expect((await (await fetch(`${n0!.spec.url}/doc?key=${key}`)).json()).node).toBe('n1');
  });
});
