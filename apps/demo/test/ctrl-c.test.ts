import { readFile } from 'node:fs/promises';
import { startPnpm, WORKSPACE } from '@ringroute/example-kit/test';
import { describe, expect, it } from 'vitest';

describe('Ctrl-C on the demo', () => {
  it('leaves the cluster and exits 0, pnpm included, without error output, however many SIGINTs the process group relays', async () => {
    // As a user runs it (pnpm demo = install, then this), as a terminal's foreground job.
    const demo = await startPnpm(['--filter', '@ringroute/demo', 'start', '--port', '0'], {
      env: { REDIS_URL: '' },
      ready: /Dashboard: http:\/\/\S+/,
    });
    const dashboard = /Dashboard: (http:\/\/\S+)/.exec(demo.stdout)![1]!;
    expect((await fetch(dashboard)).status).toBe(200);

    expect(await demo.interrupt()).toEqual([0, null]);
    expect(demo.stdout).toContain('leaving the cluster');
    expect(demo.stderr).toBe('');
    await expect(fetch(dashboard)).rejects.toThrow(); // its servers are closed
  });

  it('the scripts that start it run without a POSIX shell (pnpm runs them in its shell emulator, as on Windows)', async () => {
    const scripts = async (dir: string) =>
      Object.values((JSON.parse(await readFile(`${WORKSPACE}${dir}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts);
    const workspace = await readFile(`${WORKSPACE}pnpm-workspace.yaml`, 'utf8');
    expect(workspace).toMatch(/^shellEmulator: true$/m);
    for (const script of [...(await scripts('')), ...(await scripts('apps/demo/'))]) expect(script).not.toMatch(/(^|[;&|]\s*)exec\s/);
  });
});
