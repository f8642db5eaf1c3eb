import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';
import { MEMBERSHIP_KINDS } from './helpers/memberships.js';

const IDS = ['node-a', 'node-b', 'node-c'];

describe.each(EXPRESS_VERSIONS)('$name', ({ express }) => {
  describe.each(MEMBERSHIP_KINDS)('3 nodes sharing a $name', (kind) => {
    const clusters: { cluster: Cluster; cleanup: () => Promise<void> }[] = [];
    const start = async (misroute: 'redirect' | 'proxy' | 'refuse') => {
      const shared = kind.cluster();
      const cluster = await startCluster({ express, ids: IDS, membership: shared.create, options: { misroute } });
      clusters.push({ cluster, cleanup: shared.cleanup });
      return cluster;
    };
    let redirect: Cluster;
    let proxy: Cluster;
    let refuse: Cluster;

    beforeAll(async () => {
      [redirect, proxy, refuse] = await Promise.all([start('redirect'), start('proxy'), start('refuse')]);
    });
    afterAll(async () => {
      for (const { cluster, cleanup } of clusters) {
        await cluster.stop();
        await cleanup();
      }
    });

    it('serves an owned key locally, with the owner and epoch on req.ringRoute', async () => {
      const key = redirect.keyOwnedBy('node-b');
      const res = await fetch(`${redirect.node('node-b').url}/items?key=${key}`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.node).toBe('node-b');
      expect(body.route).toEqual({ key, owner: 'node-b', epoch: redirect.node('node-b').rr.ring!.epoch, reason: 'owner' });
    });

    it('redirects a non-owner request with 307 whose Location serves it from the owner', async () => {
      const key = redirect.keyOwnedBy('node-c');
      const res = await fetch(`${redirect.node('node-a').url}/items/1?key=${key}&x=1`, { redirect: 'manual' });
      expect(res.status).toBe(307);
      const location = res.headers.get('location')!;
      expect(location.startsWith(`${redirect.node('node-c').url}/items/1?key=${key}&x=1&rr_hops=1&rr_epoch=`)).toBe(true);
      const followed = await fetch(location);
      expect(followed.status).toBe(200);
      expect(followed.headers.get('x-node')).toBe('node-c');
      const served = await followed.json();
      expect(served.route.reason).toBe('owner');
      // The hop parameters are routing metadata: the handler sees only the application's query.
      expect(served.query).toEqual({ key, x: '1' });
    });

    it('proxies a non-owner request and returns the owner response with X-Forwarded-* and the hop count added', async () => {
      const key = proxy.keyOwnedBy('node-a');
      const res = await fetch(`${proxy.node('node-b').url}/items?key=${key}`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-node')).toBe('node-a');
      const { headers } = await res.json();
      expect(headers['x-ringroute-hops']).toBe('1');
      expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers['x-forwarded-host']).toBe(new URL(proxy.node('node-b').url).host);
      // One name for one idea: X-Forwarded-* (what `trust proxy` reads), not RFC 7239's Forwarded as well.
      expect(headers).not.toHaveProperty('forwarded');
      expect(headers).not.toHaveProperty('x-ringroute-epoch');
    });

    it('does not forward hop-by-hop headers, including those the Connection header names', async () => {
      const key = proxy.keyOwnedBy('node-b');
      const headers = await new Promise<Record<string, string>>((resolve, reject) => {
        const req = httpRequest(`${proxy.node('node-c').url}/items?key=${key}`, {
          headers: { connection: 'keep-alive, x-hop-secret', 'x-hop-secret': 'for the first hop only', 'x-end': 'kept', te: 'trailers' },
        });
        req.on('response', (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (d: string) => (text += d))
            .on('end', () => resolve(JSON.parse(text).headers));
        });
        req.on('error', reject).end();
      });
      expect(headers['x-end']).toBe('kept');
      expect(headers['x-hop-secret']).toBeUndefined();
      expect(headers.te).toBeUndefined();
      expect(headers['x-ringroute-hops']).toBe('1');
    });

    it('proxies a streamed POST body both ways: each echoed chunk arrives before the next is sent', async () => {
      const key = proxy.keyOwnedBy('node-c');
      const chunks = Array.from({ length: 5 }, (_, i) => `chunk-${i}-${'x'.repeat(2048)}|`);
      const { status, node, echoed } = await new Promise<{ status: number; node: string; echoed: string }>((resolve, reject) => {
        const req = httpRequest(`${proxy.node('node-a').url}/echo?key=${key}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          let echoed = '';
          let sent = 1;
          res.setEncoding('utf8');
          res.on('data', (data: string) => {
            echoed += data;
            // The owner answers chunk by chunk: the next one is sent only once this one came back through the proxy.
            if (echoed.length === chunks.slice(0, sent).join('').length) {
              if (sent < chunks.length) req.write(chunks[sent++]);
              else req.end();
            }
          });
          res.on('end', () => resolve({ status: res.statusCode!, node: String(res.headers['x-node']), echoed }));
          res.on('error', reject);
        });
        req.flushHeaders();
        req.write(chunks[0]);
      });
      expect(status).toBe(200);
      expect(node).toBe('node-c');
      expect(echoed).toBe(chunks.join(''));
    });

    it('refuses a non-owner request with 421 and a JSON body naming the owner', async () => {
      const key = refuse.keyOwnedBy('node-b');
      const res = await fetch(`${refuse.node('node-c').url}/items?key=${key}`);
      expect(res.status).toBe(421);
      const body = await res.json();
      expect(body).toMatchObject({
        error: 'Misdirected Request',
        reason: 'not-owner',
        owner: { id: 'node-b', url: refuse.node('node-b').url },
      });
      expect(res.headers.get('x-node')).toBeNull();
    });
  });
});
