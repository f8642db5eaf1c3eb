import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute } from '@ringroute/express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen, nodeApp, REDIS_URL, until, type TestNode } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';

const SYNC_INTERVAL = 100;
/** Suspected after 1 s of silence, removed after 2 s: the window in which the owner is down but still in the ring. */
const FAILURE_TIMEOUT = 1000;

// The tsx loader in this very process (the tsx CLI would run the script in a grandchild that SIGKILL misses).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const nodeScript = fileURLToPath(new URL('./fixtures/node-process.ts', import.meta.url));

/** Starts the node in a child process and resolves once it has joined the cluster. */
async function spawnNode(expressModule: string, id: string, cluster: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, nodeScript], {
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: tsconfig,
      RR_EXPRESS: expressModule,
      RR_NODE_ID: id,
      RR_CLUSTER: cluster,
      RR_REDIS_URL: REDIS_URL,
      RR_SYNC_INTERVAL: String(SYNC_INTERVAL),
      RR_FAILURE_TIMEOUT: String(FAILURE_TIMEOUT),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`node process ${id} exited with ${code} before joining`);
  });
  const [line] = await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited]);
  exited.catch(() => {});
  return { child, url: (JSON.parse(line as string) as { url: string }).url };
}

describe.each(EXPRESS_VERSIONS)('$name: an owner killed (Redis membership, SIGKILL)', ({ express, module }) => {
  const cluster = `express-failover-${randomUUID()}`;
  const nodes: TestNode[] = [];
  let victim: ChildProcess;
  let key: string;
  let fallback: string;

  beforeAll(async () => {
    // node-a proxies, node-b redirects: one cluster shows both policies.
    for (const [id, misroute] of [
      ['node-a', 'proxy'],
      ['node-b', 'redirect'],
    ] as const) {
      const { server, url } = await listen();
      const membership = new RedisMembership({
        redis: REDIS_URL,
        cluster,
        self: { id, url },
        syncInterval: SYNC_INTERVAL,
        failureTimeout: FAILURE_TIMEOUT,
      });
      const rr = ringRoute({ membership, self: id, key: 'query:key', misroute });
      server.on('request', nodeApp(express, id, rr));
      nodes.push({ id, url, server, rr });
      await rr.ready();
    }
    victim = (await spawnNode(module, 'node-c', cluster)).child;
    await until(() => nodes.every((n) => n.rr.ring?.node('node-c')?.status === 'alive'), 'node-c to join');
    // A key node-c owns whose next candidate is node-b, so the retry crosses to another process.
    const ring = nodes[0]!.rr.ring!;
    for (let i = 0; ; i++) {
      const [owner, next] = [...ring.candidates(`key-${i}`)];
      if (owner!.id === 'node-c' && next!.id === 'node-b') {
        [key, fallback] = [`key-${i}`, next!.id];
        break;
      }
    }
  });

  afterAll(async () => {
    victim.kill('SIGKILL');
    for (const n of nodes) await closeServer(n.server);
    for (const n of nodes) await n.rr.close();
    const redis = new Redis(REDIS_URL);
    await redis.del(`ringroute:${cluster}`).finally(() => redis.disconnect());
  });

  it('before detection an idempotent proxied request retries on the next candidate and a POST gets 503 + Retry-After; after detection its keys are served by the next candidate, through redirects and proxying alike', async () => {
    victim.kill('SIGKILL');
    await once(victim, 'exit');
    expect(nodes[0]!.rr.ring!.owner(key)!.id).toBe('node-c'); // still in the ring: not detected yet

    const get = await fetch(`${nodes[0]!.url}/items?key=${key}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('x-node')).toBe(fallback);
    expect((await get.json()).route.reason).toBe('fallback');

    const post = await fetch(`${nodes[0]!.url}/echo?key=${key}`, { method: 'POST', body: 'payload' });
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toBe('1');
    expect(await post.json()).toMatchObject({ reason: 'proxy-failed', tried: ['node-c'] });

    // Failure detection removes it after 2 x FAILURE_TIMEOUT of silence.
    await until(() => nodes.every((n) => n.rr.ring!.node('node-c') === undefined), 'node-c to be removed as failed', 10_000);
    for (const n of nodes) {
      const res = await fetch(`${n.url}/items?key=${key}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-node')).toBe(fallback);
      expect((await res.json()).route).toMatchObject({ owner: fallback, reason: 'owner' });
    }
  });
});
