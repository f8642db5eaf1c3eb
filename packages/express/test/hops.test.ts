import { MemoryBus, MemoryMembership, type NodeSpec } from '@ringroute/ring-core';
import { ringRoute } from '@ringroute/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen, nodeApp, type TestNode } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';

const KEY = 'contested';
const MAX_HOPS = 3;

/**
 * Two nodes whose rings deliberately disagree: each has its own bus, and each bus pins KEY to the *other* node,
 * so each node forwards the request to the other.
 */
async function disagreeingPair(express: (typeof EXPRESS_VERSIONS)[number]['express'], misroute: 'redirect' | 'proxy'): Promise<TestNode[]> {
  const listening = await Promise.all([listen(), listen()]);
  const specs: NodeSpec[] = [
    { id: 'node-a', url: listening[0].url },
    { id: 'node-b', url: listening[1].url },
  ];
  return Promise.all(
    specs.map(async (self, i) => {
      const other = specs[1 - i]!.id;
      const membership = new MemoryMembership({ bus: new MemoryBus({ nodes: specs, pins: { [KEY]: other } }), self });
      const rr = ringRoute({ membership, self: self.id, key: 'query:key', misroute, maxHops: MAX_HOPS });
      const { server, url } = listening[i]!;
      server.on('request', nodeApp(express, self.id, rr));
      await rr.ready();
      return { id: self.id, url, server, rr };
    }),
  );
}

describe.each(EXPRESS_VERSIONS)('$name: two nodes with different rings', ({ express }) => {
  const pairs: TestNode[][] = [];
  let redirect: TestNode[];
  let proxy: TestNode[];

  beforeAll(async () => {
    pairs.push((redirect = await disagreeingPair(express, 'redirect')));
    pairs.push((proxy = await disagreeingPair(express, 'proxy')));
  });
  afterAll(async () => {
    for (const n of pairs.flat()) await closeServer(n.server);
    for (const n of pairs.flat()) await n.rr.close();
  });

  it('redirect mode: the request ends with 508 after maxHops redirects, never loops', async () => {
    const statuses: number[] = [];
    let url = `${redirect[0]!.url}/items?key=${KEY}`;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(url, { redirect: 'manual' });
      statuses.push(res.status);
      if (res.status !== 307) {
        expect(await res.json()).toMatchObject({ error: 'Loop Detected', reason: 'max-hops', hops: MAX_HOPS, maxHops: MAX_HOPS });
        break;
      }
      url = res.headers.get('location')!;
    }
    expect(statuses).toEqual([307, 307, 307, 508]);
  });

  it('redirect mode: a client that follows redirects gets the 508', async () => {
    const res = await fetch(`${redirect[1]!.url}/items?key=${KEY}`);
    expect(res.status).toBe(508);
  });

  it('proxy mode: the proxied chain stops at maxHops and the 508 comes back to the client', async () => {
    const res = await fetch(`${proxy[0]!.url}/items?key=${KEY}`);
    expect(res.status).toBe(508);
    expect(await res.json()).toMatchObject({ reason: 'max-hops', hops: MAX_HOPS });
    // 3 proxied requests in total: a -> b -> a -> b, where b refuses.
    const proxied = proxy.reduce((sum, n) => sum + n.rr.router.counters.proxy, 0);
    expect(proxied).toBe(MAX_HOPS);
  });
});
