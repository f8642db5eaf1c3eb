import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { converge, keyOwnedBy, nodeSpecs, startNode, waitFor, type TestNode } from './helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SYNC_INTERVAL = 100;
/** Suspected after 1 s of silence, removed after 2 s: the window in which the owner is down but still in the ring. */
const FAILURE_TIMEOUT = 1000;

// The tsx loader of this process (the tsx CLI would run the script in a grandchild that SIGKILL would miss).
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const nodeScript = fileURLToPath(new URL('./fixtures/node-process.ts', import.meta.url));

async function spawnNode(id: string, cluster: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', tsxLoader, nodeScript], {
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: tsconfig,
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
  await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited]);
  exited.catch(() => {});
  return child;
}

describe('an owner killed with SIGKILL (Redis membership, proxy mode)', () => {
  const cluster = `fastify-failover-${randomUUID()}`;
  let nodes: TestNode[] = [];
  let victim: ChildProcess | undefined;

  beforeAll(async () => {
    const specs = await nodeSpecs(2);
    nodes = await Promise.all(
      specs.map(({ spec, port }) =>
        startNode(
          spec,
          port,
          new RedisMembership({ redis: REDIS_URL, cluster, self: spec, syncInterval: SYNC_INTERVAL, failureTimeout: FAILURE_TIMEOUT }),
          { misroute: 'proxy' },
        ),
      ),
    );
    victim = await spawnNode('victim', cluster);
    await converge(
      nodes.map((n) => n.membership),
      ['n0', 'n1', 'victim'],
    );
  });

  afterAll(async () => {
    victim?.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.app.close()));
  });

  it('retries idempotent requests on the next candidate until detection, then routes there directly', async () => {
    const [n0] = nodes;
    const key = keyOwnedBy(n0!.membership, 'victim', 'failover');
    const next = [...n0!.membership.ring.candidates(key)][1]!.id;
    const via = nodes.find((n) => n.spec.id !== next)!;
    expect((await (await fetch(`${via.spec.url}/doc?key=${key}`)).json()).node).toBe('victim');

    victim!.kill('SIGKILL');
    await once(victim!, 'exit');
    // Still in every ring: GET is retried on the next candidate, POST fails fast with 503 + Retry-After.
    expect(n0!.membership.ring.owner(key)?.id).toBe('victim');
    const get = await fetch(`${via.spec.url}/doc?key=${key}`);
    expect(await get.json()).toMatchObject({ node: next, owner: 'victim', reason: 'fallback' });
    const post = await fetch(`${via.spec.url}/echo?key=${key}`, {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toBe('1');
    expect(await post.json()).toMatchObject({ reason: 'proxy-failed', tried: ['victim'] });

    // Failure detection removes the silent member; its keys now belong to the next candidate everywhere.
    await waitFor(() => nodes.every((n) => n.membership.ring.owner(key)?.id === next), 'failure detection', 10_000);
    for (const node of nodes) {
      expect(await (await fetch(`${node.spec.url}/doc?key=${key}`)).json()).toMatchObject({ node: next, owner: next, reason: 'owner' });
    }
  });
});
