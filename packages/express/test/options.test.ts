import { MemoryMembership, RingRouteConfigError } from '@ringroute/ring-core';
import { ringRoute, type DecisionEvent, type ProxyErrorInfo, type RingRouteMiddleware } from '@ringroute/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, keyOwnedBy, listen, startCluster, until, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS, type ExpressFactory } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

describe('invalid options throw at construction, naming the option', () => {
  const membership = () => new MemoryMembership();
  it.each([
    ['membership', {}],
    ['self', { membership: membership(), key: 'query:key' }],
    ['key', { membership: membership(), self: 'a', key: 'body:id' }],
    ['misroute', { membership: membership(), self: 'a', key: 'query:key', misroute: 'bounce' }],
    ['maxHops', { membership: membership(), self: 'a', key: 'query:key', maxHops: 0 }],
    ['logger', { membership: membership(), self: 'a', key: 'query:key', logger: { info() {} } }],
    ['proxyTimeouts.connect', { membership: membership(), self: 'a', key: 'query:key', misroute: 'proxy', proxyTimeouts: { connect: -1 } }],
    ['ejection.backof', { membership: membership(), self: 'a', key: 'query:key', misroute: 'proxy', ejection: { backof: 10 } }],
    ['healthCheck.backoff', { nodes: [{ id: 'a' }], self: 'a', key: 'query:key', healthCheck: { backoff: 2 } }],
    ['nodes[0].wieght', { nodes: [{ id: 'a', wieght: 2 }], self: 'a', key: 'query:key' }],
  ])('%s', (option, options) => {
    const error = (() => {
      try {
        ringRoute(options as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RingRouteConfigError);
    expect((error as RingRouteConfigError).option.startsWith(option)).toBe(true);
  });

  it('withKey() validates its key source', () => {
    const rr = ringRoute({ membership: membership(), self: 'a', key: 'query:key' });
    expect(() => rr.withKey('nowhere' as never)).toThrow(/withKey\(key\)/);
    return rr.close();
  });
});

/** Logs into arrays: a real logger object, as an app would pass pino or console. */
function memoryLogger() {
  const lines: { level: string; message: string; details: object }[] = [];
  const log = (level: string) => (details: object, message: string) => void lines.push({ level, message, details });
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } };
}

describe.each(EXPRESS_VERSIONS)('$name: lifecycle, events, logging and proxy errors', ({ express }) => {
  let cluster: Cluster;
  let proxy: Cluster;
  const { lines, logger } = memoryLogger();
  beforeAll(async () => {
    cluster = await startCluster({ express, ids: ['node-a', 'node-b', 'node-c'], membership: MEMORY.cluster().create });
    proxy = await startCluster({
      express,
      ids: ['node-a', 'node-b'],
      membership: MEMORY.cluster().create,
      options: {
        misroute: 'proxy',
        logger,
        onProxyError: ({ tried }) => ({ status: 502, body: `owner down (tried ${tried.join(', ')})` }),
      },
    });
  });
  afterAll(async () => {
    await cluster.stop();
    await proxy.stop();
  });

  it('emits a typed decision event for every routed request', async () => {
    const node = cluster.node('node-a');
    const events: DecisionEvent[] = [];
    const listener = (event: DecisionEvent) => events.push(event);
    node.rr.on('decision', listener);
    const key = cluster.keyOwnedBy('node-b');
    await fetch(`${node.url}/items?key=${key}`, { redirect: 'manual' });
    await fetch(`${node.url}/items`);
    node.rr.off('decision', listener);
    expect(events).toEqual([
      expect.objectContaining({ key, action: 'redirect', reason: 'not-owner', owner: 'node-b', status: 307, hops: 0, method: 'GET' }),
      expect.objectContaining({ key: undefined, action: 'error', reason: 'missing-key', status: 400 }),
    ]);
  });

  it('shapes a failed proxy through onProxyError, emits proxy-error and logs it', async () => {
    const owner = proxy.node('node-b');
    const errors: ProxyErrorInfo[] = [];
    proxy.node('node-a').rr.on('proxy-error', (info) => errors.push(info));
    await closeServer(owner.server); // down, but still in the ring
    const res = await fetch(`${proxy.node('node-a').url}/echo?key=${proxy.keyOwnedBy('node-b')}`, { method: 'POST', body: 'data' });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('owner down (tried node-b)');
    expect(errors).toEqual([
      expect.objectContaining({ method: 'POST', tried: ['node-b'], owner: expect.objectContaining({ id: 'node-b' }) }),
    ]);
    expect(lines.some((l) => l.level === 'error' && l.message === 'ringroute: proxying failed')).toBe(true);
  });

  it('logs node status changes of the membership through the logger', async () => {
    await proxy.node('node-a').rr.membership.update('node-b', { status: 'suspected' });
    expect(lines).toContainEqual({
      level: 'info',
      message: 'ringroute: node status changed',
      details: { node: 'node-b', from: 'alive', to: 'suspected' },
    });
  });

  it('close() leaves the cluster: the other members drop the node', async () => {
    const leaving = cluster.node('node-c');
    await closeServer(leaving.server);
    await Promise.all([leaving.rr.close(), leaving.rr.close()]);
    await until(() => cluster.nodes.filter((n) => n !== leaving).every((n) => n.rr.ring!.node('node-c') === undefined), 'node-c to leave');
    expect(leaving.rr.membership.ready).toBe(false);
  });
});

describe.each(EXPRESS_VERSIONS)('$name: a static node list, a hung owner and body parsers', ({ express }) => {
  let rr: RingRouteMiddleware;
  let url: string;
  let other: { server: import('node:http').Server; url: string };
  const servers: import('node:http').Server[] = [];
  beforeAll(async () => {
    const self = await listen();
    other = await listen();
    servers.push(self.server, other.server);
    url = self.url;
    // `other` listens but never answers: a hung owner.
    rr = ringRoute({
      nodes: [
        { id: 'self', url },
        { id: 'other', url: other.url },
      ],
      self: 'self',
      key: 'query:key',
      misroute: 'proxy',
      proxyTimeouts: { response: 300 },
    });
    self.server.on('request', parsedApp(express, rr));
    await rr.ready();
  });
  afterAll(async () => {
    for (const server of servers) await closeServer(server);
    await rr.close();
  });

  it('builds a static membership from `nodes` and serves its own keys', async () => {
    const key = keyOwnedBy(rr, 'self');
    const res = await fetch(`${url}/items?key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ body: { a: 1 } });
  });

  it('answers 503 + Retry-After when the owner accepts but does not answer within proxyTimeouts.response', async () => {
    const res = await fetch(`${url}/items?key=${keyOwnedBy(rr, 'other')}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ reason: 'proxy-failed', tried: ['other'] });
  });

  it('says why when a body parser consumed a body it cannot re-serialise (mount ringRoute first), and keeps serving', async () => {
    const res = await fetch(`${url}/items?key=${keyOwnedBy(rr, 'other')}`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x--',
    });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('mount the RingRoute middleware before that parser');
    expect((await fetch(`${url}/items?key=${keyOwnedBy(rr, 'self')}`)).status).toBe(200);
  });
});

/** The mistake the middleware has to explain: a parser before it whose value has no byte form (here multipart). */
function parsedApp(express: ExpressFactory, rr: RingRouteMiddleware) {
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => {
    if (!req.is('multipart/form-data')) return next();
    req.resume().once('end', () => {
      req.body = { file: { name: 'upload.bin' } };
      next();
    });
  });
  app.use(rr);
  app.use((req, res) => res.json({ body: req.body }));
  return app;
}
