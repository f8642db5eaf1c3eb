import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createRing } from '@ringroute/ring-core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../src/demo.js';

const run = promisify(execFile);
const appDir = new URL('..', import.meta.url);

describe('pnpm demo --once', () => {
  it('prints each sample key with its owner and the real answer of a non-owner', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--once', '--port', '0'], {
      cwd: appDir,
      env: { ...process.env, REDIS_URL: '' },
      timeout: 30_000,
    });
    expect(stdout).toContain('3 nodes, in-process membership');
    const urls = new Map([...stdout.matchAll(/^ {2}(node-\d) {2}(http:\/\/\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect([...urls.keys()]).toEqual(['node-1', 'node-2', 'node-3']);

    // Owners depend only on the members: an independent ring with the same ids agrees with the demo.
    const ring = await createRing({ nodes: [...urls.keys()].map((id) => ({ id })) });
    const rows = [...stdout.matchAll(/^ {2}(\S+)\s+(node-\d)\s+GET (node-\d) -> (\d+) redirect → (\S+)$/gm)];
    expect(rows.length).toBe(5);
    for (const [, key, owner, asked, status, location] of rows) {
      expect(owner).toBe(ring.owner(key!)!.id);
      expect(asked).not.toBe(owner);
      expect(status).toBe('307');
      expect(location!.startsWith(`${urls.get(owner!)}/kv/${encodeURIComponent(key!)}`)).toBe(true);
    }
  });

  it('rejects a bad option with a message naming it', async () => {
    const failed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--misroute', 'teleport'], { cwd: appDir }).catch(
      (e) => e,
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('--misroute: must be redirect, proxy or refuse');
  });

  it('answers an unknown flag and a port in use with one line (and the usage), never a stack trace', async () => {
    const start = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: appDir, env: { ...process.env, REDIS_URL: '' } }).catch(
        (e: { code: number; stderr: string }) => e,
      );
    const unknown = (await start('--prot', '4000')) as { code: number; stderr: string };
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe("Unknown option '--prot'");
    expect(unknown.stderr).toContain('Usage: pnpm demo');
    expect(unknown.stderr).not.toMatch(/^\s+at /m);

    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const failed = (await start('--port', String(port), '--once')) as { code: number; stderr: string };
      expect(failed.code).toBe(1);
      // Nodes start first, on the next ports: one of those may be taken by someone else on a shared machine.
      const line = /^port (\d+) is in use: pick other ports with --port \(the dashboard takes it, the nodes the next 3\)\n$/.exec(
        failed.stderr,
      );
      expect(line, failed.stderr).not.toBeNull();
      expect(Number(line![1]) - port).toBeGreaterThanOrEqual(0);
      expect(Number(line![1]) - port).toBeLessThanOrEqual(3);
    } finally {
      busy.close();
    }
  });
});

describe('the demo control API', () => {
  let demo: Demo;
  const post = async (path: string) => {
    const res = await fetch(`${demo.dashboard.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    return { status: res.status, body: await res.json() };
  };
  const ownerOf = (key: string) => demo.cluster.observer.ring.owner(key)?.id;
  const until = async (condition: () => boolean) => {
    await expect.poll(condition, { timeout: 10_000, interval: 50 }).toBe(true);
  };

  beforeAll(async () => {
    demo = await startDemo({ port: 0, traffic: false });
  });
  afterAll(() => demo?.close());

  it('drain, kill, revive, add and remove move keys between real nodes', async () => {
    const key = 'cart:alice';
    const first = ownerOf(key)!;

    // Drain: weight 0, still running, owns nothing.
    expect((await post(`/api/nodes/${first}/drain`)).status).toBe(200);
    await until(() => ownerOf(key) !== first);
    expect(demo.cluster.observer.ring.node(first)!.weight).toBe(0);

    // Kill the new owner: health checks mark it suspected, then dead, and its keys go to the next candidate.
    const second = ownerOf(key)!;
    const statuses: string[] = [];
    const onStatus = (node: { id: string }, _from: string, to: string) => void (node.id === second && statuses.push(to));
    demo.cluster.observer.on('status', onStatus);
    expect((await post(`/api/nodes/${second}/kill`)).status).toBe(200);
    await until(() => demo.cluster.observer.ring.node(second)!.status === 'dead');
    demo.cluster.observer.off('status', onStatus);
    // suspected, then dead; on a loaded machine both checks can land in one ring change (alive -> dead). A crashed
    // node cannot refute the verdict: it never turns alive again.
    expect(statuses.at(-1)).toBe('dead');
    expect(statuses.every((status) => status === 'suspected' || status === 'dead')).toBe(true);
    const third = ownerOf(key)!;
    expect([first, second]).not.toContain(third);
    const served = await fetch(`${demo.cluster.nodes.get(third)!.url}/kv/${encodeURIComponent(key)}`);
    expect((await served.json()).node).toBe(third);

    // Revive: the same id and port come back and take their keys back.
    expect((await post(`/api/nodes/${second}/revive`)).status).toBe(200);
    await until(() => ownerOf(key) === second);

    const added = await post('/api/nodes');
    expect(added.status).toBe(200);
    expect(added.body.nodes.map((n: { id: string }) => n.id)).toContain('node-4');

    expect((await post('/api/nodes/node-4/remove')).status).toBe(200);
    expect(demo.cluster.observer.ring.node('node-4')).toBeUndefined();
    expect((await post('/api/nodes/node-9/kill')).status).toBe(409);
  });

  it('undrain gives a drained node its keys back', async () => {
    const key = 'cart:bob';
    const owner = ownerOf(key)!;
    expect((await post(`/api/nodes/${owner}/drain`)).status).toBe(200);
    await until(() => ownerOf(key) !== owner);
    expect((await post(`/api/nodes/${owner}/undrain`)).status).toBe(200);
    await until(() => ownerOf(key) === owner);
    expect(demo.cluster.observer.ring.node(owner)!.weight).toBe(1);
  });

  it('answers a key lookup with owner, fallback chain and each node’s real answer', async () => {
    const res = await fetch(`${demo.dashboard.url}/api/lookup?key=session_882`);
    const body = await res.json();
    const ring = demo.cluster.observer.ring;
    expect(body.owner).toBe(ring.owner('session_882')!.id);
    expect(body.chain.map((n: { id: string }) => n.id)).toEqual([...ring.candidates('session_882')].map((n) => n.id));
    for (const probe of body.probes) expect(probe.status).toBe(probe.node === body.owner ? 200 : 307);

    expect((await fetch(`${demo.dashboard.url}/api/lookup`)).status).toBe(400);
    expect((await fetch(`${demo.dashboard.url}/api/lookup?key=${'x'.repeat(300)}`)).status).toBe(400);
  });
});

describe('the demo on Redis membership (REDIS_URL)', () => {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const redisCluster = `demo-test-${process.pid}-${Date.now()}`;
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ port: 0, traffic: false, redisUrl, redisCluster });
  });
  afterAll(async () => {
    await demo?.close();
    const redis = new Redis(redisUrl);
    await redis.del(`ringroute:${redisCluster}`);
    redis.disconnect();
  });

  it('shares the ring through Redis, and a node killed from the dashboard (a simulated crash: its server and heartbeats stop, no leave) is declared failed by missed heartbeats', async () => {
    expect(demo.cluster.membershipKind).toBe('redis');
    const ring = demo.cluster.observer.ring;
    expect(ring.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2', 'node-3']);
    const [key, other] = ['cart:alice', 'cart:bob'];
    const owner = ring.owner(key)!.id;

    await fetch(`${demo.dashboard.url}/api/nodes/${owner}/kill`, { method: 'POST' });
    await expect.poll(() => demo.cluster.observer.ring.node(owner), { timeout: 10_000, interval: 50 }).toBeUndefined();
    const next = demo.cluster.observer.ring.owner(key)!.id;
    expect(next).not.toBe(owner);
    // Keys of the surviving nodes did not move.
    if (ring.owner(other)!.id !== owner) expect(demo.cluster.observer.ring.owner(other)!.id).toBe(ring.owner(other)!.id);
    const res = await fetch(`${demo.cluster.nodes.get(next)!.url}/kv/${encodeURIComponent(key)}`);
    expect((await res.json()).node).toBe(next);
  });
});
