import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { main } from '../../src/edge/cli.js';

async function until(check: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const bin = fileURLToPath(new URL('../../src/edge/bin.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

describe('ringroute edge (CLI)', () => {
  let dir: string;
  let nodes: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringroute-cli-'));
    nodes = join(dir, 'nodes.json');
    await writeFile(
      nodes,
      JSON.stringify([
        { id: 'a', url: 'http://10.0.0.1:3000', serverId: 1 },
        { id: 'b', url: 'http://10.0.0.2:3000', serverId: 2, weight: 2 },
      ]),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const run = async (argv: string[]) => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk) => (text += chunk));
    const code = await main(argv, out);
    return { code, text };
  };

  it('prints an nginx upstream for a static node list', async () => {
    const { code, text } = await run(['edge', 'nginx', '--nodes', nodes, '--key', 'query:doc', '--name', 'docs']);
    expect(code).toBe(0);
    expect(text).toContain(
      'upstream docs {\n    hash $arg_doc consistent;\n    server 10.0.0.1:3000; # a\n    server 10.0.0.2:3000 weight=2; # b\n}',
    );
  });

  it('writes a HAProxy backend with the chosen hash to --out', async () => {
    const file = join(dir, 'backend.cfg');
    const { code } = await run(['edge', 'haproxy', '--nodes', nodes, '--key', 'cookie:sid', '--hash', 'wt6', '--avalanche', '--out', file]);
    expect(code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain(
      'balance hash req.cook(sid),url_dec\n    hash-type consistent wt6 avalanche\n    server a 10.0.0.1:3000 id 1 weight 1\n',
    );
  });

  it('--watch with --nodes follows the list file and rewrites the block on change', async () => {
    const list = join(dir, 'watched.json');
    const file = join(dir, 'watched.cfg');
    const two = [
      { id: 'a', url: 'http://10.0.0.1:3000', serverId: 1 },
      { id: 'b', url: 'http://10.0.0.2:3000', serverId: 2 },
    ];
    await writeFile(list, JSON.stringify(two));
    const stop = new AbortController();
    const done = main(['edge', 'haproxy', '--nodes', list, '--key', 'query:doc', '--out', file, '--watch'], new PassThrough(), stop.signal);
    const read = () => readFile(file, 'utf8').catch(() => '');
    await until(async () => (await read()).includes('server b 10.0.0.2:3000 id 2'));
    await writeFile(
      list,
      JSON.stringify([
        ...two.slice(1).map((n) => ({ ...n, status: 'dead' })),
        { id: 'c', url: 'http://10.0.0.3:3000', serverId: 3, weight: 2 },
      ]),
    );
    await until(async () => (await read()).includes('server c 10.0.0.3:3000 id 3 weight 2'));
    expect(await read()).toContain('    server b 10.0.0.2:3000 id 2 weight 1 disabled\n    server c 10.0.0.3:3000 id 3 weight 2\n');
    expect(await read()).not.toContain('server a ');
    stop.abort();
    expect(await done).toBe(0);
  });

  it('fails on bad input with the option named, and prints usage for an unknown command', async () => {
    await expect(run(['edge', 'nginx', '--nodes', nodes])).rejects.toMatchObject({ option: '--key' });
    await expect(run(['edge', 'haproxy', '--nodes', nodes, '--key', 'query:doc', '--hash', 'xxh32'])).rejects.toBeInstanceOf(
      RingRouteConfigError,
    );
    await expect(run(['edge', 'nginx', '--key', 'query:doc', '--watch'])).rejects.toMatchObject({ option: '--out' });
    expect(await run(['edge', 'envoy'])).toMatchObject({ code: 2, text: expect.stringContaining('usage: ringroute edge nginx|haproxy') });
  });

  it('runs as a bin: exit 2 and a message naming the option on bad input', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', bin, 'edge', 'haproxy', '--nodes', nodes],
        { cwd: packageDir },
        (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    expect(result).toEqual({ code: 2, stderr: expect.stringContaining('ringroute: --key: is required') });
  });
});
