import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, SpawnedRedis } from '../../ring-core/test/redis/server.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const entry = fileURLToPath(new URL('./support/store-away-node.ts', import.meta.url));
/** SmartRoute's heartbeat with the default failureTimeout (2500 / 4): the node joins within one once Redis answers. */
const HEARTBEAT = 625;
/** What a busy 2-core machine may add (scheduling, the poll below). */
const MARGIN = 500;
/** Longer than the ~10 s after which the start used to fail, its rejection ending the process. */
const AWAY = 12_000;

describe('SmartRoute started while its Redis is away (a server process, as an app runs it)', () => {
  it('keeps the process up, answers /ready 503 naming Redis and its address, and joins within a heartbeat of Redis answering', async () => {
    const redis = new SpawnedRedis(await freePort()); // not started yet
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: packageDir,
      env: { ...process.env, RINGROUTE_NODE: JSON.stringify({ port, redis: redis.url, cluster: `away-${randomUUID()}` }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const ready = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      const reason = `waiting for Redis at 127.0.0.1:${redis.port}: connect ECONNREFUSED 127.0.0.1:${redis.port}`;
      await expect.poll(async () => (await ready().catch(() => undefined))?.body.reason, { timeout: 15_000, interval: 100 }).toBe(reason);
      expect(await ready()).toEqual({ status: 503, body: { status: 'not_ready', node: 'n0', reason } });
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

      await new Promise((r) => setTimeout(r, AWAY));
      expect({ exitCode: child.exitCode, signal: child.signalCode, stderr }).toEqual({ exitCode: null, signal: null, stderr: '' });
      expect(await ready()).toEqual({ status: 503, body: { status: 'not_ready', node: 'n0', reason } });

      await redis.start();
      const answered = performance.now();
      await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 20 }).toBe(200);
      expect(performance.now() - answered).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
      await expect.poll(() => stdout, { timeout: 5000 }).toBe('joined\n'); // server.listen() resolved
    } finally {
      child.kill('SIGKILL');
      await exited;
      await redis.kill();
    }
  }, 60_000);
});
