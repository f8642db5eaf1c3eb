import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRing, RingRouteConfigError } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { renderNginx } from '../../src/edge/render.js';
import { main } from '../../src/edge/cli.js';
import { freePort, SpawnedRedis } from '../redis/server.js';
import { proxyRejects } from './proxies.js';

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

/** Runs the bin to its end: exit code, stdout, stderr. */
function runBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', bin, ...args], { cwd: packageDir }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

/** The bin in the background (--watch), with its output so far. */
function startBin(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

describe('ringroute edge never writes a config its proxy would reject', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringroute-cli-kept-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const good = [
    { id: 'a', url: 'http://10.0.0.1:3000', serverId: 1 },
    { id: 'b', url: 'http://10.0.0.2:3000', serverId: 2 },
  ];
  // Every member drained (weight 0): the upstream such a ring renders has no server, which nginx rejects.
  const drained = good.map((node) => ({ ...node, weight: 0 }));
  const list = async (name: string, nodes: object[]) => {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(nodes));
    return file;
  };

  it('one-shot with no routable member: prints or writes nothing, keeps the last good file, says why, exits 1', async () => {
    const empty = join(dir, 'empty.conf');
    await writeFile(empty, renderNginx(await createRing({ strategy: 'nginx', nodes: [] }), { key: 'query:doc' }));
    expect(await proxyRejects('nginx', empty)).toMatch(/no servers are inside upstream/); // what used to be written

    for (const proxy of ['nginx', 'haproxy'] as const) {
      const out = join(dir, `one-shot.${proxy}`);
      const written = await runBin(['edge', proxy, '--nodes', await list('good.json', good), '--key', 'query:doc', '--out', out]);
      expect(written.code).toBe(0);
      const text = await readFile(out, 'utf8');
      expect(await proxyRejects(proxy, out)).toBeUndefined();

      const kept = await runBin(['edge', proxy, '--nodes', await list('drained.json', drained), '--key', 'query:doc', '--out', out]);
      expect(kept.code).toBe(1);
      expect(kept.stderr).toContain('ringroute: edge config kept (no routable member: a weight 0, b weight 0)');
      expect(await readFile(out, 'utf8')).toBe(text);
      expect(await proxyRejects(proxy, out)).toBeUndefined();

      const printed = await runBin(['edge', proxy, '--nodes', await list('none.json', []), '--key', 'query:doc']);
      expect(printed).toEqual({ code: 1, stdout: '', stderr: 'ringroute: nothing written: no routable member: the ring has no members\n' });
    }
  });

  it('--watch: a list with no routable member keeps the last good file and watching goes on', async () => {
    for (const proxy of ['nginx', 'haproxy'] as const) {
      const nodes = await list(`watched-${proxy}.json`, good);
      const out = join(dir, `watched.${proxy}`);
      const edge = startBin(['edge', proxy, '--nodes', nodes, '--key', 'query:doc', '--out', out, '--watch']);
      try {
        const read = () => readFile(out, 'utf8').catch(() => '');
        await until(async () => (await read()).includes('10.0.0.2:3000'));
        expect(await proxyRejects(proxy, out)).toBeUndefined();

        await writeFile(nodes, JSON.stringify([])); // every member gone (removed one by one: the last good file may list one)
        await until(async () => edge.output.stderr.includes('ringroute: edge config kept (no routable member: the ring has no members)'));
        expect(await read()).toMatch(/server \S+ 10\.0\.0\.[12]:3000|server 10\.0\.0\.[12]:3000;/);
        expect(await proxyRejects(proxy, out)).toBeUndefined();
        expect(edge.child.exitCode).toBeNull();

        await writeFile(nodes, JSON.stringify([{ id: 'c', url: 'http://10.0.0.3:3000', serverId: 3 }]));
        await until(async () => (await read()).includes('10.0.0.3:3000'));
        expect(await read()).not.toContain('10.0.0.2:3000');
        expect(await proxyRejects(proxy, out)).toBeUndefined();
        edge.child.kill('SIGTERM');
        expect(await edge.exited).toBe(0);
      } finally {
        edge.child.kill('SIGKILL');
      }
    }
  });
});

describe('ringroute edge --redis while Redis is away', () => {
  /** The default heartbeat: the edge gets its ring within one once Redis answers; plus what a busy machine may add. */
  const HEARTBEAT = 1000;
  const MARGIN = 500;

  it('says on stderr what it waits for (Redis and its address), keeps trying, and writes once Redis and a member are there', async () => {
    const redis = new SpawnedRedis(await freePort()); // not started yet
    const dir = await mkdtemp(join(tmpdir(), 'ringroute-cli-redis-'));
    const out = join(dir, 'upstream.conf');
    const cluster = `edge-away-${randomUUID()}`;
    const edge = startBin(['edge', 'nginx', '--redis', redis.url, '--cluster', cluster, '--key', 'query:doc', '--out', out, '--watch']);
    let member: RedisMembership | undefined;
    try {
      const reason = `waiting for Redis at 127.0.0.1:${redis.port}: connect ECONNREFUSED 127.0.0.1:${redis.port}`;
      await until(async () => edge.output.stderr.includes(reason));
      await new Promise((r) => setTimeout(r, 3000));
      expect(edge.child.exitCode).toBeNull();
      expect(edge.output.stderr.split('\n').filter((line) => line.includes(reason))).toHaveLength(1); // said once

      await redis.start();
      const answered = performance.now();
      // Its first ring has no member yet: nothing to write, which it says.
      await until(async () => edge.output.stderr.includes('edge config kept (no routable member: the ring has no members)'));
      expect(performance.now() - answered).toBeLessThanOrEqual(HEARTBEAT + MARGIN);
      await expect(readFile(out, 'utf8')).rejects.toThrow();

      member = new RedisMembership({ redis: redis.url, cluster, strategy: 'nginx', self: { id: 'a', url: 'http://10.0.0.1:3000' } });
      await member.start();
      await until(async () => (await readFile(out, 'utf8').catch(() => '')).includes('server 10.0.0.1:3000; # a'));
      expect(await proxyRejects('nginx', out)).toBeUndefined();
      edge.child.kill('SIGTERM');
      expect(await edge.exited).toBe(0);
    } finally {
      edge.child.kill('SIGKILL');
      await member?.stop();
      await redis.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
