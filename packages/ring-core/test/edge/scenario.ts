/**
 * One scenario for every adapter behind every edge proxy: a real nginx or HAProxy in front of three adapter nodes that
 * refuse (421) any request they do not own, with the upstream block (nginx) or backend (HAProxy) generated from the
 * Redis membership: every keyed request must reach its owner. Then a fourth node joins while the writer is paused
 * (the edge lags on purpose: keys the new node owns are refused), the writer rewrites the config and reloads the proxy
 * once, and requests reach owners again. An adapter test supplies only how to start its node.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Membership, NodeSpec } from '@ringroute/ring-core';
import { EdgeWriter, haproxyReloader, nginxReloader, renderEdge, type EdgeProxy } from '@ringroute/ring-core/edge';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { freePort, REDIS_URL } from '../redis/server.js';
import { sendDocs, tally } from './delivery.js';
import { NGINX, startHaproxy, startNginx, type Proxy } from './proxies.js';

/** The key every node reads, and the edge hashes alike (nginx `$arg_doc`, HAProxy `url_param(doc)`). */
export const EDGE_KEY = 'query:doc';

/** An adapter node: serves `GET /doc` with `{ node: <id> }`, key EDGE_KEY, misroute 'refuse'. */
export interface EdgeNode {
  stop(): Promise<void>;
}

/** Starts one adapter node as `id`; the adapter listens first, then builds its membership from its spec (its url). */
export type StartEdgeNode = (id: string, member: (self: Omit<NodeSpec, 'serverId'>) => Membership) => Promise<EdgeNode>;

interface Edge {
  /**
   * Keys the edge and the adapters read alike. nginx hashes `$arg_doc` as sent, so its keys are URL-safe (see the
   * README); HAProxy decodes `url_param` with `url_dec`, as the adapters do, so its keys carry non-ASCII characters.
   */
  keys(count: number, salt: string): string[];
  /** Pipeline depth of the client (HAProxy drops a connection whose pipeline runs far ahead of its answers). */
  batch: number;
  /** Starts the proxy on `front`, including `file` (the generated config); returns it and its reloader. */
  start(front: number, file: string): Promise<{ proxy: Proxy; reload: () => Promise<void> }>;
  /** nginx wants a keep-alive pool to the upstream block. */
  directives?: string[];
}

const EDGES: Record<EdgeProxy, Edge> = {
  nginx: {
    keys: (count, salt) => Array.from({ length: count }, (_, i) => `doc-${salt}-${i}`),
    batch: 50,
    directives: ['keepalive 16;'],
    async start(front, file) {
      const proxy = await startNginx(
        `  include ${file};\n  server {\n    listen 127.0.0.1:${front};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n`,
        [front],
      );
      return { proxy, reload: nginxReloader({ binary: NGINX, prefix: proxy.dir, config: proxy.config }) };
    },
  },
  haproxy: {
    keys: (count, salt) => Array.from({ length: count }, (_, i) => `doc été ${salt}-${i}`),
    batch: 16,
    async start(front, file) {
      const proxy = await startHaproxy(`frontend main\n  bind 127.0.0.1:${front}\n  default_backend app\n`, [front], [file]);
      return { proxy, reload: haproxyReloader(proxy.master) };
    },
  },
};

/** Delivers 10,000 keyed requests to their owners, then stops misrouting within one reload after a join. */
export async function edgeScenario(edge: EdgeProxy, startNode: StartEdgeNode): Promise<void> {
  const { keys, batch, directives } = EDGES[edge];
  const cluster = `edge-${edge}-${randomUUID()}`;
  const memberships: Membership[] = [];
  const nodes: EdgeNode[] = [];
  let proxy: Proxy | undefined;
  let writer: EdgeWriter | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'ringroute-edge-'));
  const member = (self?: NodeSpec) => {
    const membership = new RedisMembership({ redis: REDIS_URL, cluster, strategy: edge, syncInterval: 200, ...(self ? { self } : {}) });
    memberships.push(membership);
    return membership;
  };
  const ids = (membership: Membership) => (membership.ready ? membership.ring.nodes.map((n) => n.id).join(',') : '');
  const start = async (id: string) => nodes.push(await startNode(id, (self) => member({ ...self, serverId: nodes.length + 1 })));
  const send = (front: number, docs: string[]) => sendDocs(front, docs, batch);
  try {
    for (const id of ['n0', 'n1', 'n2']) await start(id);
    const observer = member();
    await observer.start();
    await until(() => memberships.every((m) => ids(m) === 'n0,n1,n2'), 'three members everywhere');

    const file = join(dir, edge === 'nginx' ? 'upstream.conf' : 'backend.cfg');
    const options = { name: 'app', key: EDGE_KEY, ...(directives ? { directives } : {}) };
    await writeFile(file, renderEdge(edge, observer.ring, options));
    const front = await freePort();
    const started = await EDGES[edge].start(front, file);
    proxy = started.proxy;
    writer = new EdgeWriter(observer, { ...options, proxy: edge, file, reload: started.reload });
    await writer.start();
    // The file already holds this ring's config: no write, no reload.
    expect(writer.stats).toEqual({ writes: 0, reloads: 0, failures: 0, kept: 0 });

    const steady = keys(10_000, 'a');
    expect(tally(steady, await send(front, steady), observer)).toEqual({ requests: 10_000, misrouted: 0, wrong: 0 });

    // n3 joins while the writer is paused, so the edge lags on purpose: keys n3 now owns still go to their old
    // owners, which refuse them (421). That is what the reload has to end.
    await writer.stop();
    await start('n3');
    await until(() => memberships.every((m) => ids(m) === 'n0,n1,n2,n3'), 'four members everywhere');
    const lagging = keys(1_000, 'lag');
    const stale = tally(lagging, await send(front, lagging), observer);
    expect(stale.misrouted).toBe(lagging.filter((doc) => observer.ring.owner(doc)?.id === 'n3').length);
    expect(stale.misrouted).toBeGreaterThan(0);
    expect(stale.wrong).toBe(0);

    await writer.start(); // one write, one reload
    expect(writer.stats).toEqual({ writes: 1, reloads: 1, failures: 0, kept: 0 });
    // The reload returns once signalled; wait until the new workers answer (a key n3 now owns reaches n3).
    const moved = keys(200, 'probe').find((doc) => observer.ring.owner(doc)?.id === 'n3')!;
    await until(async () => (await send(front, [moved]))[0]!.node === 'n3', `${edge} serving the new config`);
    await proxy.settled(); // the old worker, which still routes by the old config, has exited

    const after = keys(2_000, 'b');
    expect(tally(after, await send(front, after), observer)).toEqual({ requests: 2_000, misrouted: 0, wrong: 0 });
    expect(writer.stats).toEqual({ writes: 1, reloads: 1, failures: 0, kept: 0 });
  } finally {
    await writer?.stop();
    await proxy?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(memberships.map((m) => m.stop()));
    await rm(dir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    await redis.del(`ringroute:${cluster}`).finally(() => redis.disconnect());
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
