import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgeWriter, nginxReloader, renderNginx } from '@ringroute/ring-core/edge';
import { RedisMembership } from '@ringroute/ring-core/redis';
import type { Membership, NodeSpec } from '@ringroute/ring-core';
import { sendDocs, tally } from '../../ring-core/test/edge/delivery.js';
import { NGINX, startNginx, type Proxy } from '../../ring-core/test/edge/proxies.js';
import { converge, freePort, nodeSpecs, startNode, waitFor, type TestNode } from './helpers.js';

// Real nginx in front of three real Fastify nodes that refuse (421) any request they do not own, with the
// upstream block generated from the Redis membership: every keyed request must reach its owner. Then a
// fourth node joins; the writer rewrites the block and reloads nginx once, and requests reach owners again.

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = 'query:doc';

/** Keys the edge and the adapters read alike: nginx hashes $arg_doc as sent, so they are URL-safe (see README). */
const keys = (count: number, salt: string) => Array.from({ length: count }, (_, i) => `doc-${salt}-${i}`);
const send = (front: number, docs: string[]) => sendDocs(front, docs, 50);

describe('nginx in front of Fastify with strategy nginx and a generated upstream', () => {
  const cluster = `edge-nginx-${randomUUID()}`;
  const memberships: Membership[] = [];
  const nodes: TestNode[] = [];
  let proxy: Proxy | undefined;
  let writer: EdgeWriter | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    await writer?.stop();
    await proxy?.stop();
    await Promise.all(nodes.map((n) => n.app.close()));
    await Promise.all(memberships.map((m) => m.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    await redis.del(`ringroute:${cluster}`).finally(() => redis.disconnect());
  });

  const member = (self?: NodeSpec) => {
    const membership = new RedisMembership({ redis: REDIS_URL, cluster, strategy: 'nginx', syncInterval: 200, ...(self ? { self } : {}) });
    memberships.push(membership);
    return membership;
  };

  it('delivers 10,000 keyed requests to their owners, then stops misrouting within one reload after a join', async () => {
    const specs = await nodeSpecs(4);
    for (const { spec, port } of specs.slice(0, 3)) nodes.push(await startNode(spec, port, member(spec), { key: KEY, misroute: 'refuse' }));
    const observer = member();
    await observer.start();
    await converge([observer, ...nodes.map((n) => n.membership)], ['n0', 'n1', 'n2']);

    dir = await mkdtemp(join(tmpdir(), 'ringroute-edge-'));
    const upstream = join(dir, 'upstream.conf');
    const options = { name: 'app', key: KEY, directives: ['keepalive 16;'] };
    await writeFile(upstream, renderNginx(observer.ring, options));
    const front = await freePort();
    proxy = await startNginx(
      `  include ${upstream};\n  server {\n    listen 127.0.0.1:${front};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n`,
      [front],
    );
    writer = new EdgeWriter(observer, {
      ...options,
      proxy: 'nginx',
      file: upstream,
      reload: nginxReloader({ binary: NGINX, prefix: proxy.dir, config: proxy.config }),
    });
    await writer.start();
    // The file already holds this ring's config: no write, no reload.
    expect(writer.stats).toEqual({ writes: 0, reloads: 0, failures: 0, kept: 0 });
    const reloads = 0;

    const steady = keys(10_000, 'a');
    expect(tally(steady, await send(front, steady), observer)).toEqual({ requests: 10_000, misrouted: 0, wrong: 0 });

    // n3 joins while the writer is paused, so the edge lags on purpose: keys n3 now owns still go to their old
    // owners, which refuse them (421). That is what the reload has to end.
    await writer.stop();
    const { spec, port } = specs[3]!;
    nodes.push(await startNode(spec, port, member(spec), { key: KEY, misroute: 'refuse' }));
    await converge([observer, ...nodes.map((n) => n.membership)], ['n0', 'n1', 'n2', 'n3']);
    const lagging = keys(1_000, 'lag');
    const stale = tally(lagging, await send(front, lagging), observer);
    expect(stale.misrouted).toBe(lagging.filter((doc) => observer.ring.owner(doc)?.id === 'n3').length);
    expect(stale.misrouted).toBeGreaterThan(0);
    expect(stale.wrong).toBe(0);

    await writer.start(); // one write, one reload
    expect(writer.stats.reloads).toBe(reloads + 1);
    // `nginx -s reload` returns once signalled; wait until the new workers answer (a key n3 now owns reaches n3).
    const moved = keys(200, 'probe').find((doc) => observer.ring.owner(doc)?.id === 'n3')!;
    await waitFor(async () => (await send(front, [moved]))[0]!.node === 'n3', 'nginx serving the new upstream');
    await proxy.settled(); // the old worker, which still routes by the old config, has exited

    const after = keys(2_000, 'b');
    expect(tally(after, await send(front, after), observer)).toEqual({ requests: 2_000, misrouted: 0, wrong: 0 });
    expect(writer.stats).toMatchObject({ reloads: reloads + 1, failures: 0 });
  }, 60_000);
});
