import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership, RingRouteConfigError } from '@ringroute/ring-core';
import { ringRoute, type RingRouteLogger } from '@ringroute/express';
import { closeServer, listen, startCluster, until, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';

const NODES = [{ id: 'a', url: 'http://127.0.0.1:1' }];

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('options', () => {
  it('refuses unknown options, suggesting the closest valid one', () => {
    const attempt = () => ringRoute({ nodes: NODES, self: 'a', key: 'query:k', proxyTimeout: { connect: 1 } } as never);
    expect(attempt).toThrow(RingRouteConfigError);
    expect(attempt).toThrow('proxyTimeout: unknown option (did you mean `proxyTimeouts`?)');
    expect(() => ringRoute({ nodes: [], self: 'a', key: 'query:k' })).toThrow(/^nodes: must list at least one node/);
  });

  it('validates node ids and URLs as the admin add-node route does', () => {
    expect(() => ringRoute({ nodes: [{ id: '__proto__', url: 'http://127.0.0.1:1' }], self: '__proto__', key: 'query:k' })).toThrow(
      /^nodes\[0\]\.id: "__proto__" is reserved/,
    );
    expect(() => ringRoute({ nodes: [{ id: 'a', url: 'javascript:alert(1)' }], self: 'a', key: 'query:k' })).toThrow(
      /^nodes\[0\]\.url: must be an http, https, ws or wss URL/,
    );
  });
});

for (const { name, express } of EXPRESS_VERSIONS) {
  describe(name, () => {
    it("monitor() never shadows the app's own /health and /metrics, and warns once naming `prefix`", async () => {
      const warnings: [object, string][] = [];
      const logger: RingRouteLogger = { debug() {}, info() {}, warn: (details, message) => warnings.push([details, message]), error() {} };
      const rr = ringRoute({ nodes: NODES, self: 'a', key: 'query:k', logger });
      const app = express();
      app.use(rr.monitor());
      app.get('/health', (_req, res) => res.json({ mine: true }));
      app.get('/metrics', (_req, res) => res.send('app metrics'));
      const { server, url } = await listen();
      server.on('request', app);
      try {
        await rr.ready();
        expect(await (await fetch(`${url}/health`)).json()).toEqual({ mine: true });
        expect(await (await fetch(`${url}/metrics`)).text()).toBe('app metrics');
        expect((await fetch(`${url}/ready`)).status).toBe(200); // RingRoute's routes the app does not have still answer
        expect(warnings).toHaveLength(1);
        expect(warnings[0]![1]).toContain('`prefix`');
        expect(warnings[0]![0]).toEqual({ routes: ['GET /health', 'GET /metrics'] });
      } finally {
        await closeServer(server);
        await rr.close();
      }
    });

    it("puts the ringroute_ metrics into the app's prom-client registry and counts misrouted requests", async () => {
      const registry = new Registry();
      new Counter({ name: 'app_jobs_total', help: 'app', registers: [registry] }).inc(2);
      const bus = new MemoryBus();
      cluster = await startCluster({
        express,
        ids: ['a', 'b'],
        membership: (self) => new MemoryMembership({ bus, self }),
        options: { misroute: 'proxy' },
      });
      const rr = ringRoute({ membership: cluster.node('a').rr.membership, key: 'query:key', registry, leaveOnClose: false });
      const key = cluster.keyOwnedBy('b');
      const app = express();
      app.use(rr);
      app.use((_req, res) => res.send('here'));
      const { server, url } = await listen();
      server.on('request', app);
      try {
        expect((await fetch(`${url}/x?key=${key}`, { redirect: 'manual' })).status).toBe(307);
        const text = await registry.metrics();
        expect(text).toContain('app_jobs_total 2');
        expect(text).toContain('ringroute_decisions_total{node="a",action="redirect"} 1');
        expect(text).toContain('ringroute_misrouted_total{node="a"} 1');
      } finally {
        await closeServer(server);
        await rr.close();
      }
    });

    it('ejects an owner after consecutive connection failures, skips it (even for a POST), and takes it back after a probe', async () => {
      const bus = new MemoryBus();
      cluster = await startCluster({
        express,
        ids: ['a', 'b', 'c'],
        membership: (self) => new MemoryMembership({ bus, self }),
        options: { misroute: 'proxy', ejection: { failures: 2, backoff: 200 } },
      });
      const [a, b] = [cluster.node('a'), cluster.node('b')];
      const key = cluster.keyOwnedBy('b');
      const port = Number(new URL(b.url).port);
      await closeServer(b.server); // its port now refuses connections; the membership still says alive
      expect(a.rr.ring!.node('b')?.status).toBe('alive');
      const post = () =>
        fetch(`${a.url}/echo?key=${key}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'hello' });
      const stats = async () => (await (await fetch(`${a.url}/api/routes/stats`)).json()).ejection;

      expect((await post()).status).toBe(503); // a POST is never retried once sent
      const get = await fetch(`${a.url}/doc?key=${key}`);
      expect(get.status).toBe(200); // a GET moves on to the next candidate
      expect(get.headers.get('x-node')).not.toBe('b');
      expect(await stats()).toEqual({ ejections: 1, ejected: ['b'] });
      expect(await (await fetch(`${a.url}/metrics`)).text()).toContain('ringroute_ejections_total{node="a"} 1');

      const skipped = await post(); // nothing is sent to an ejected owner: the next candidate takes even a POST
      expect(skipped.status).toBe(200);
      expect(skipped.headers.get('x-node')).not.toBe('b');
      expect(await skipped.text()).toBe('hello');

      await new Promise<void>((resolve, reject) => b.server.once('error', reject).listen(port, '127.0.0.1', resolve));
      await until(() => a.rr.router.ejection().ejected.length === 0, 'the probe to bring b back');
      expect((await fetch(`${a.url}/doc?key=${key}`)).headers.get('x-node')).toBe('b');
    });

    it('answers 400 to malformed percent-encoding in a proxied query', async () => {
      const bus = new MemoryBus();
      cluster = await startCluster({
        express,
        ids: ['a', 'b'],
        membership: (self) => new MemoryMembership({ bus, self }),
        options: { misroute: 'proxy' },
      });
      const key = cluster.keyOwnedBy('b');
      const bad = await fetch(`${cluster.node('a').url}/x?key=${key}&q=%zz`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ reason: 'bad-request' });
      expect((await fetch(`${cluster.node('a').url}/x?key=${key}&q=%20`)).headers.get('x-node')).toBe('b');
    });
  });
}
