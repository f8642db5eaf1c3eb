import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, SpawnedRedis } from '../../../packages/ring-core/test/redis/server.js';

const appDir = new URL('..', import.meta.url);
/** The demo's heartbeat (its Redis members' syncInterval): a node joins within one of them once Redis answers. */
const HEARTBEAT = 500;
/** What a busy 2-core machine may add (scheduling, the poll below). */
const MARGIN = 500;
/** How long Redis stays away after the demo started. */
const AWAY = 3000;

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A dashboard port whose next 3 ports (the nodes') are free too. */
async function demoPorts(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if ((await Promise.all([1, 2, 3].map((i) => bindable(port + i)))).every(Boolean)) return port;
  }
}

/** `pnpm demo` with REDIS_URL, as a process of its own. */
function startDemoProcess(port: number, redisUrl: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--port', String(port)], {
    cwd: appDir,
    env: { ...process.env, REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  return { child, output, exited };
}

describe('pnpm demo with REDIS_URL while Redis is away', () => {
  it('says what it waits for, nodes answer /ready 503 naming Redis, and they join within a heartbeat of Redis answering', async () => {
    const redis = new SpawnedRedis(await freePort()); // not started yet
    const port = await demoPorts();
    const demo = startDemoProcess(port, redis.url);
    const node1 = `http://127.0.0.1:${port + 1}`;
    try {
      const reason = `waiting for Redis at 127.0.0.1:${redis.port}: connect ECONNREFUSED 127.0.0.1:${redis.port}`;
      await expect.poll(() => demo.output.stdout, { timeout: 20_000, interval: 50 }).toContain(`  ${reason} (retrying; Ctrl-C to stop)\n`);
      const ready = async () => {
        const response = await fetch(`${node1}/ready`);
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      await expect.poll(async () => (await ready().catch(() => undefined))?.body.reason, { timeout: 5000, interval: 50 }).toBe(reason);
      expect(await ready()).toEqual({ status: 503, body: { ready: false, self: 'node-1', reason } });

      await new Promise((r) => setTimeout(r, AWAY));
      expect({ exitCode: demo.child.exitCode, stderr: demo.output.stderr }).toEqual({ exitCode: null, stderr: '' });
      await redis.start();
      const answered = performance.now();
      await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 20 }).toBe(200);
      expect(performance.now() - answered).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
      await expect.poll(() => demo.output.stdout, { timeout: 10_000, interval: 50 }).toContain(`Dashboard: http://127.0.0.1:${port}`);
      expect(demo.output.stdout).toContain('3 nodes, Redis membership');
      // Said once, however many times the start was retried.
      expect(demo.output.stdout.split(reason).length - 1).toBe(1);

      demo.child.kill('SIGINT');
      expect(await demo.exited).toEqual([0, null]);
      expect(demo.output.stderr).toBe('');
    } finally {
      demo.child.kill('SIGKILL');
      await redis.kill();
    }
  }, 60_000);

  it('Ctrl-C while it waits gives the start up and exits 0 at once', async () => {
    const redis = new SpawnedRedis(await freePort()); // never started
    const demo = startDemoProcess(await demoPorts(), redis.url);
    try {
      await expect
        .poll(() => demo.output.stdout, { timeout: 20_000, interval: 50 })
        .toContain(`waiting for Redis at 127.0.0.1:${redis.port}`);
      const stopping = performance.now();
      demo.child.kill('SIGINT');
      expect(await demo.exited).toEqual([0, null]);
      expect(performance.now() - stopping).toBeLessThan(2000);
      expect(demo.output.stdout).toContain('stopped before the cluster was up');
      expect(demo.output.stderr).toBe('');
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 60_000);
});
