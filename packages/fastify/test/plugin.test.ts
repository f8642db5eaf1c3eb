import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { MemoryMembership, RingRouteConfigError } from '@ringroute/ring-core';
import type { DecisionEvent } from '@ringroute/ring-core/http';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';
import { keyOwnedBy, memoryNodes, nodeSpecs, streamedBody, type TestNode } from './helpers.js';

describe('registration', () => {
  it('rejects invalid options at registration with an error naming the option', async () => {
    const cases: [Partial<RingRouteOptions>, string][] = [
      [{ misroute: 'bounce' as never }, 'misroute'],
      [{ key: 'body:id' as never }, 'key (source)'],
      [{ scope: 'some' as never }, 'scope'],
      [{ maxHops: -1 }, 'maxHops'],
    ];
    for (const [patch, option] of cases) {
      const app = Fastify();
      app.register(ringRoute, { membership: new MemoryMembership({ self: { id: 'a' } }), key: 'query:key', ...patch });
      const error = await app.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RingRouteConfigError);
      expect((error as RingRouteConfigError).option).toBe(option);
      await app.close();
    }
  });

  it('refuses a second registration in the same instance', async () => {
    const app = Fastify();
    const membership = new MemoryMembership({ self: { id: 'a' } });
    app.register(ringRoute, { membership, key: 'query:key' });
    app.register(ringRoute, { membership, key: 'query:key' });
    await expect(app.ready()).rejects.toThrow(/^ringRoute: the plugin is already registered/);
    await app.close();
  });

  it('builds a static membership from nodes, decorates the instance, and stops it on close', async () => {
    const app = Fastify();
    await app.register(ringRoute, {
      nodes: [
        { id: 'a', url: 'http://127.0.0.1:1' },
        { id: 'b', url: 'http://127.0.0.1:2' },
      ],
      self: 'a',
      key: 'header:x-session',
    });
    app.get('/s', async (request) => ({ owner: request.ringRoute?.owner?.id }));
    await app.ready();
    await app.ringRoute.router.start();
    expect(app.ringRoute.ring?.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(app.ringRoute.stats()).toMatchObject({ self: 'a', ready: true });
    let owned = '';
    for (let i = 0; !owned; i++) if (app.ringRoute.ring!.owner(`s${i}`)?.id === 'a') owned = `s${i}`;
    const res = await app.inject({ url: '/s', headers: { 'x-session': owned } });
    expect(res.json()).toEqual({ owner: 'a' });
    await app.close();
    expect(app.ringRoute.membership.ready).toBe(false);
  });
});

describe('logging', () => {
  it('logs proxy failures through the request logger (pino); an unread streamed body does not keep the server open', async () => {
    const lines: { level: number; msg: string; tried?: string[] }[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(JSON.parse(String(chunk)));
        callback();
      },
    });
    const app = Fastify({ logger: { level: 'info', stream } });
    const [self, gone] = await nodeSpecs(2); // nothing listens on gone's port
    await app.register(ringRoute, {
      nodes: [
        { id: 'a', url: self!.spec.url },
        { id: 'gone', url: gone!.spec.url },
      ],
      self: 'a',
      key: 'query:key',
      misroute: 'proxy',
    });
    app.post('/doc', async () => 'served');
    await app.listen({ port: self!.port, host: '127.0.0.1' });
    await app.ringRoute.router.start();
    let key = '';
    for (let i = 0; !key; i++) if (app.ringRoute.ring!.owner(`k${i}`)?.id === 'gone') key = `k${i}`;
    const { body } = streamedBody(5 * 1024 * 1024);
    const res = await fetch(`${self!.spec.url}/doc?key=${key}`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-type': 'application/octet-stream' },
    } as RequestInit);
    expect(res.status).toBe(503);
    expect(res.headers.get('connection')).toBe('close');
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'ringroute: proxying failed', tried: ['gone'] }));
    await app.close(); // would never resolve while the half-read request held its connection
  });
});

describe('events, hooks and proxy errors', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
    await Promise.all(nodes.map((n) => n.membership.stop()));
    nodes = [];
  });

  const pair = async (options: Partial<RingRouteOptions> = {}) => (nodes = await memoryNodes(2, options));

  it('emits one typed decision event per request (HEAD routes included)', async () => {
    const [n0] = await pair();
    const events: DecisionEvent[] = [];
    n0!.app.ringRoute.router.on('decision', (event) => events.push(event));
    const remote = keyOwnedBy(n0!.membership, 'n1');
    await fetch(`${n0!.spec.url}/doc?key=${remote}`, { method: 'HEAD', redirect: 'manual' });
    await fetch(`${n0!.spec.url}/doc?key=${keyOwnedBy(n0!.membership, 'n0')}`);
    expect(events).toMatchObject([
      { key: remote, action: 'redirect', reason: 'not-owner', status: 307, owner: 'n1', method: 'HEAD', hops: 0 },
      { action: 'local', reason: 'owner', owner: 'n0', method: 'GET' },
    ]);
  });

  it('onProxyError shapes the answer when the owner cannot be reached', async () => {
    const [n0, n1] = await pair({
      misroute: 'proxy',
      leaveOnClose: false,
      onProxyError: (info) => ({ status: 502, body: `owner ${info.owner?.id} down; tried ${info.tried.join(',')}` }),
    });
    const key = keyOwnedBy(n0!.membership, 'n1');
    await n1!.app.close();
    const res = await fetch(`${n0!.spec.url}/echo?key=${key}`, {
      method: 'POST',
      body: 'abc',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('owner n1 down; tried n1');
    expect(n0!.app.ringRoute.stats().counters.errorsByReason['proxy-failed']).toBe(1);
  });
});
