import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryBus, MemoryMembership, type Membership, type MisroutePolicy } from '@ringroute/ring-core';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';
import { converge, keyOwnedBy, nodeSpecs } from './helpers.js';

/**
 * The ways apps register the plugin: `await app.register(ringRoute, ...)`, or without `await` (most Fastify code and
 * docs), routes declared right after it in the same tick, before the plugin has loaded.
 */
const FORMS = ['await', 'no await'] as const;
type Form = (typeof FORMS)[number];

const report = (node: string) => async (request: FastifyRequest) => ({ node, owner: request.ringRoute?.owner?.id ?? null });

interface Node {
  id: string;
  url: string;
  port: number;
  app: FastifyInstance;
  membership: Membership;
}

const running: Node[] = [];
afterEach(async () => {
  const nodes = running.splice(0);
  await Promise.all(nodes.map((n) => n.app.close()));
  await Promise.all(nodes.map((n) => n.membership.stop()));
});

/**
 * Two nodes (n0, n1) on loopback sharing one in-process membership; `build` declares each app's plugins and routes
 * (the plugin registered as `form` says). Requests in the tests go to n0 with keys n1 owns.
 */
async function cluster(build: (app: FastifyInstance, options: RingRouteOptions, id: string) => Promise<void> | void, count = 2) {
  const specs = await nodeSpecs(count);
  const bus = new MemoryBus();
  for (const { spec, port } of specs) {
    const membership = new MemoryMembership({ bus, self: spec });
    const app = Fastify({ logger: false });
    await build(app, { membership, key: 'query:key' }, spec.id);
    await app.listen({ port, host: '127.0.0.1' });
    running.push({ id: spec.id, url: spec.url, port, app, membership });
  }
  await converge(
    running.map((n) => n.membership),
    specs.map(({ spec }) => spec.id),
  );
  const [n0] = running;
  return { n0: n0!, remote: keyOwnedBy(n0!.membership, 'n1'), local: keyOwnedBy(n0!.membership, 'n0') };
}

const register = async (form: Form, app: FastifyInstance, options: RingRouteOptions) => {
  const registered = app.register(ringRoute, options);
  if (form === 'await') await registered;
};

const get = (url: string) => fetch(url, { redirect: 'manual' });

describe.each(FORMS)('HTTP routes, plugin registered with %s', (form) => {
  const routes = (misroute: MisroutePolicy) => async (app: FastifyInstance, options: RingRouteOptions, id: string) => {
    await register(form, app, { ...options, misroute });
    app.get('/doc', report(id));
    app.get('/open', { config: { ringRoute: false } }, report(id));
  };

  it('redirects a misrouted key to its owner', async () => {
    const { n0, remote } = await cluster(routes('redirect'));
    const res = await get(`${n0.url}/doc?key=${remote}`);
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toMatch(new RegExp(`^${running[1]!.url}/doc\\?key=${remote}&rr_hops=1`));
  });

  it('proxies a misrouted key to its owner', async () => {
    const { n0, remote, local } = await cluster(routes('proxy'));
    expect(await (await get(`${n0.url}/doc?key=${remote}`)).json()).toEqual({ node: 'n1', owner: 'n1' });
    expect(await (await get(`${n0.url}/doc?key=${local}`)).json()).toEqual({ node: 'n0', owner: 'n0' });
  });

  it('refuses a misrouted key with 421 naming the owner; opted-out routes are served anyway', async () => {
    const { n0, remote } = await cluster(routes('refuse'));
    const res = await get(`${n0.url}/doc?key=${remote}`);
    expect(res.status).toBe(421);
    expect(await res.json()).toMatchObject({ reason: 'not-owner', owner: { id: 'n1' } });
    expect(await (await get(`${n0.url}/open?key=${remote}`)).json()).toEqual({ node: 'n0', owner: null });
    expect((await get(`${n0.url}/nowhere`)).status).toBe(404); // unknown paths stay Fastify's 404, not "missing key"
  });

  it('keeps per-route keys', async () => {
    const { n0 } = await cluster(async (app, options, id) => {
      await register(form, app, { ...options, misroute: 'refuse' });
      app.get('/items/:id', { config: { ringRoute: { key: 'params:id' } } }, report(id));
    });
    const remote = keyOwnedBy(n0.membership, 'n1');
    expect((await get(`${n0.url}/items/${remote}`)).status).toBe(421);
    expect((await get(`${n0.url}/items/${keyOwnedBy(n0.membership, 'n0')}`)).status).toBe(200);
  });

  it('ejects an owner that proxying cannot reach (passive health sees the failures)', async () => {
    const { n0, remote } = await cluster(async (app, options, id) => {
      await register(form, app, { ...options, misroute: 'proxy', leaveOnClose: false, ejection: { failures: 2, backoff: 60_000 } });
      app.post('/doc', report(id));
    });
    await running[1]!.app.close(); // its port refuses connections; the membership still says alive
    const post = () => fetch(`${n0.url}/doc?key=${remote}`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect((await post()).status).toBe(503); // a POST is never retried once sent
    expect((await post()).status).toBe(503);
    expect(n0.app.ringRoute.stats().ejection).toEqual({ ejections: 1, ejected: ['n1'] });
    expect(await (await post()).json()).toEqual({ node: 'n0', owner: 'n1' }); // the next candidate takes it
  });
});

describe('encapsulation and prefixes', () => {
  it.each(FORMS)('a plugin registered inside a child context (%s) routes its routes only, never its siblings', async (form) => {
    const { n0, remote } = await cluster((app, options, id) => {
      app.register(async (child) => {
        const registered = child.register(ringRoute, { ...options, misroute: 'refuse' });
        if (form === 'await') await registered;
        child.get('/inside', report(id));
      });
      app.register(async (sibling) => void sibling.get('/sibling', report(id)));
      app.get('/outside', report(id));
    });
    expect((await get(`${n0.url}/inside?key=${remote}`)).status).toBe(421);
    expect(await (await get(`${n0.url}/sibling?key=${remote}`)).json()).toEqual({ node: 'n0', owner: null });
    expect(await (await get(`${n0.url}/outside?key=${remote}`)).json()).toEqual({ node: 'n0', owner: null });
  });

  it.each(FORMS)('routes registered under a prefix (%s) are routed', async (form) => {
    const { n0, remote } = await cluster(async (app, options, id) => {
      await register(form, app, { ...options, misroute: 'refuse', prefix: '/ringroute' });
      app.register(async (routes) => void routes.get('/doc', report(id)), { prefix: '/v1' });
      app.register(async (routes) => void routes.get('/doc', report(id)), { prefix: '/v2' });
    });
    expect((await get(`${n0.url}/v1/doc?key=${remote}`)).status).toBe(421);
    expect((await get(`${n0.url}/v2/doc?key=${remote}`)).status).toBe(421);
    expect((await get(`${n0.url}/ringroute/ready`)).status).toBe(200); // monitoring routes are never routed
  });

  it('child contexts registered before the plugin are routed too', async () => {
    const { n0, remote } = await cluster((app, options, id) => {
      app.register(async (routes) => void routes.get('/doc', report(id)), { prefix: '/v1' });
      app.register(ringRoute, { ...options, misroute: 'refuse' });
    });
    expect((await get(`${n0.url}/v1/doc?key=${remote}`)).status).toBe(421);
  });
});

/** Upgrades of `@fastify/websocket` routes run through Fastify's routing, so they are routed like any request. */
describe('WebSocket routes (@fastify/websocket)', () => {
  const WS_FORMS = ['await', 'no await', 'registered before @fastify/websocket'] as const;

  const wsCluster = (form: (typeof WS_FORMS)[number], misroute: MisroutePolicy) =>
    cluster(async (app, options, id) => {
      if (form === 'registered before @fastify/websocket') {
        app.register(ringRoute, { ...options, misroute });
        await app.register(websocket);
      } else {
        await app.register(websocket);
        await register(form, app, { ...options, misroute });
      }
      app.get('/live', { websocket: true }, (socket) => {
        socket.on('message', (data) => socket.send(JSON.stringify({ node: id, echo: data.toString() })));
      });
    });

  /** The status of a refused handshake, or 101. */
  const handshake = async (url: string) => {
    const ws = new WebSocket(url);
    const [kind, res] = (await Promise.race([once(ws, 'open').then(() => ['open']), once(ws, 'unexpected-response')])) as [
      string,
      IncomingMessage | undefined,
    ];
    if (kind === 'open') {
      ws.close();
      return { status: 101, location: undefined };
    }
    ws.terminate();
    return { status: (res as IncomingMessage).statusCode, location: (res as IncomingMessage).headers.location };
  };

  it.each(WS_FORMS)('proxies a misrouted upgrade to its owner (%s)', async (form) => {
    const { n0, remote, local } = await wsCluster(form, 'proxy');
    for (const [key, owner] of [
      [remote, 'n1'],
      [local, 'n0'],
    ]) {
      const ws = new WebSocket(`${n0.url.replace('http', 'ws')}/live?key=${key}`);
      await once(ws, 'open');
      ws.send('hi');
      const [data] = await once(ws, 'message');
      expect(JSON.parse(String(data))).toEqual({ node: owner, echo: 'hi' });
      ws.close();
      await once(ws, 'close');
    }
  });

  it.each(WS_FORMS)('refuses a misrouted upgrade with 421 (%s)', async (form) => {
    const { n0, remote } = await wsCluster(form, 'refuse');
    expect((await handshake(`${n0.url.replace('http', 'ws')}/live?key=${remote}`)).status).toBe(421);
  });

  it.each(WS_FORMS)('redirects a misrouted upgrade to its owner (%s)', async (form) => {
    const { n0, remote } = await wsCluster(form, 'redirect');
    const { status, location } = await handshake(`${n0.url.replace('http', 'ws')}/live?key=${remote}`);
    expect(status).toBe(307);
    expect(location).toMatch(new RegExp(`^${running[1]!.url}/live\\?key=${remote}&rr_hops=1`));
  });
});

describe('a route config the plugin cannot use', () => {
  it.each(FORMS)('fails at app.ready() when declared after the plugin loaded, at its first request otherwise (%s)', async (form) => {
    const app = Fastify({ logger: false });
    await register(form, app, { nodes: [{ id: 'a', url: 'http://127.0.0.1:1' }], self: 'a', key: 'query:key' });
    const declare = () => app.get('/doc', { config: { ringRoute: { kye: 'params:id' } as never } }, async () => 'served');
    if (form === 'await') {
      expect(declare).toThrow('config.ringRoute.kye: unknown option (did you mean `key`?); valid options: key (route GET /doc)');
    } else {
      declare();
      await app.ready();
      const res = await app.inject({ url: '/doc?key=k' });
      expect(res.statusCode).toBe(500);
      expect(res.json().message).toContain('config.ringRoute.kye: unknown option');
    }
    await app.close();
  });
});

it('opted-out routes are served without a key while the rest of the scope is routed', async () => {
  const app = Fastify({ logger: false });
  app.register(ringRoute, { nodes: [{ id: 'a', url: 'http://127.0.0.1:1' }], self: 'a', key: 'query:key', scope: 'opt-in' });
  app.get('/plain', async () => 'plain');
  app.get('/routed', { config: { ringRoute: {} } }, async () => 'routed');
  await app.ready();
  expect((await app.inject({ url: '/plain' })).body).toBe('plain');
  expect((await app.inject({ url: '/routed' })).statusCode).toBe(400); // routed: its key is missing
  await app.close();
});
