import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const appDir = new URL('..', import.meta.url);

describe('Ctrl-C on the demo', () => {
  it('leaves the cluster and exits 0 without error output, however many SIGINTs the process group relays', async () => {
    const { scripts } = JSON.parse(await readFile(new URL('package.json', appDir), 'utf8')) as { scripts: { start: string } };
    // The start script as pnpm runs it (sh -c), in its own process group, as a terminal's foreground job.
    const child = spawn('sh', ['-c', `${scripts.start} --port 0`], {
      cwd: appDir,
      env: { ...process.env, REDIS_URL: '', PATH: `${fileURLToPath(new URL('node_modules/.bin', appDir))}${delimiter}${process.env.PATH}` },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );

    await expect.poll(() => stdout.includes('Dashboard: http://'), { timeout: 20_000, interval: 50 }).toBe(true);
    const dashboard = /Dashboard: (http:\/\/\S+)/.exec(stdout)![1]!;
    expect((await fetch(dashboard)).status).toBe(200);

    // Ctrl-C signals the whole group; pnpm then signals its child once more.
    process.kill(-child.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    process.kill(-child.pid!, 'SIGINT');

    expect(await exited).toEqual([0, null]);
    expect(stdout).toContain('leaving the cluster');
    expect(stderr).toBe('');
    await expect(fetch(dashboard)).rejects.toThrow(); // its servers are closed
  });
});
