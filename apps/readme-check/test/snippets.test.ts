import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedis } from '../../../packages/ring-core/test/redis/server.js';
import { freePort } from '@ringroute/example-kit';
import { pnpm, run } from '@ringroute/example-kit/test';
import { readReadme, ROOT, sectionBlocks } from '../src/readme.js';

/**
 * The READMEs as a new user meets them: the four packages packed with `pnpm pack`, installed from the tarballs into a
 * fresh app outside the workspace, each README's Usage snippets pasted in (read from the README files, so they
 * cannot drift), compiled with `tsc --strict`, and the main ones run.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PACKAGES = ['ring-core', 'fastify', 'express', 'hocuspocus'] as const;

/** Which README sections hold snippets a user pastes whole. */
const SECTIONS: { pkg: (typeof PACKAGES)[number]; section: string }[] = [
  { pkg: 'ring-core', section: 'Usage' },
  { pkg: 'ring-core', section: 'Membership' },
  { pkg: 'fastify', section: 'Usage' },
  { pkg: 'express', section: 'Usage' },
  { pkg: 'hocuspocus', section: 'Single node' },
  { pkg: 'hocuspocus', section: 'Cluster (Redis + PostgreSQL)' },
  { pkg: 'hocuspocus', section: 'Client helper' },
];

/** The app's other dependencies, at the versions the workspace has installed (`from`: a workspace folder that has it). */
const DEPENDENCIES: [name: string, from: string][] = [
  ['fastify', 'packages/fastify'],
  ['express', 'apps/express-example'],
  ['@types/express', 'apps/express-example'],
  ['ioredis', 'apps/hocuspocus-example'],
  ['@hocuspocus/server', 'apps/hocuspocus-example'],
  ['@hocuspocus/provider', 'apps/hocuspocus-example'],
  ['@hocuspocus/extension-database', 'apps/hocuspocus-example'],
  ['yjs', 'apps/hocuspocus-example'],
  ['pg', 'apps/hocuspocus-example'],
  ['@types/pg', 'apps/hocuspocus-example'],
  ['typescript', '.'],
  ['@types/node', '.'],
];

interface Snippet {
  /** e.g. `fastify README, "Usage" (line 14)`: how failures name it. */
  name: string;
  file: string;
  code: string;
}

let dir: string;
let snippets: Snippet[];
let compiled: { code: number; output: string };

const installedVersion = async (name: string, from: string) =>
  (JSON.parse(await readFile(join(ROOT, from, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ringroute-readme-'));
  // Fresh builds (turbo's cache makes this instant after `pnpm build`), packed as npm would publish them.
  await pnpm(['exec', 'turbo', 'run', 'build', '--filter=./packages/*', '--output-logs=errors-only'], ROOT);
  await pnpm(['-r', '--filter', './packages/*', 'pack', '--pack-destination', dir], ROOT);
  const tarballs = Object.fromEntries(
    (await readdir(dir))
      .filter((f) => f.endsWith('.tgz'))
      .map((f) => [`@ringroute/${/^ringroute-(.+)-\d/.exec(f)![1]}`, `file:${join(dir, f)}`]),
  );
  expect(Object.keys(tarballs).sort()).toEqual(PACKAGES.map((p) => `@ringroute/${p}`).sort());
  const app = join(dir, 'app');
  await mkdir(join(app, 'snippets'), { recursive: true });
  const dependencies: Record<string, string> = { ...tarballs };
  for (const [name, from] of DEPENDENCIES) dependencies[name] = await installedVersion(name, from);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'readme-snippets',
      private: true,
      type: 'module',
      dependencies,
      // The adapters' dependency on ring-core is the tarball too (it is not on the registry at this version).
      pnpm: { overrides: { '@ringroute/ring-core': tarballs['@ringroute/ring-core'] } },
    }),
  );
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023', 'DOM'],
        types: ['node'],
        skipLibCheck: true,
        outDir: 'out',
      },
      include: ['snippets'],
    }),
  );
  await pnpm(['install', '--prefer-offline', '--reporter=append-only'], app);

  snippets = SECTIONS.flatMap(({ pkg, section }) => {
    const blocks = sectionBlocks(readReadme(pkg), section).filter((b) => ['ts', 'js'].includes(b.lang));
    expect(blocks.length, `${pkg} README, "${section}": its code`).toBeGreaterThan(0);
    return blocks.map((block, i) => ({
      name: `${pkg} README, "${section}" (line ${block.line})`,
      file: `snippets/${pkg}-${section.replace(/\W+/g, '-').toLowerCase()}-${i + 1}.ts`.replace(/-+\./, '.'),
      code: block.code,
    }));
  });
  for (const { file, code } of snippets) await writeFile(join(app, file), code);
  try {
    compiled = { code: 0, output: await run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app) };
  } catch (error) {
    compiled = { code: 1, output: (error as Error).message };
  }
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('every Usage snippet compiles under tsc --strict in an app installed from the packed tarballs', () => {
  const failing = snippets.filter(({ file }) => compiled.output.includes(file));
  const report = failing.map(
    ({ name, file }) =>
      `${name}:\n${compiled.output
        .split('\n')
        .filter((l) => l.includes(file))
        .join('\n')}`,
  );
  expect(report.join('\n\n'), 'snippets that do not compile').toBe('');
  expect(compiled.code, compiled.output).toBe(0);
});

it('the ring-core Usage snippet runs and prints what its comments say', async () => {
  const out = await run(process.execPath, [outFile(snippet('ring-core README, "Usage"'))], join(dir, 'app'));
  expect(out).toContain('0 1 true');
});

const snippet = (name: string) => snippets.find((s) => s.name.startsWith(name)) ?? expect.fail(`no snippet ${name}`);
const outFile = ({ file }: Snippet) => join(dir, 'app', 'out', file.replace(/^snippets\//, '').replace(/\.ts$/, '.js'));

describe.each([
  { pkg: 'fastify', listen: 'port: 3000', request: (key: string) => `/docs/${key}` },
  { pkg: 'express', listen: 'listen(3000)', request: (key: string) => `/docs?doc=${key}` },
])('the $pkg Usage snippet, run as a node of its own cluster', ({ pkg, listen, request }) => {
  beforeAll(async () => (await requireRedis(REDIS_URL)).disconnect()); // the snippet's RedisMembership needs one
  it('answers the first routed request after it listens, then leaves the ring on SIGINT and exits 0', async () => {
    const port = await freePort();
    const cluster = `readme-${randomUUID()}`;
    const url = `http://127.0.0.1:${port}`;
    // tsc emits the snippet as is, so the compiled file holds the same literals as the README.
    const compiledSource = await readFile(outFile(snippet(`${pkg} README, "Usage"`)), 'utf8');
    let source = compiledSource;
    for (const [from, to] of [
      [listen, listen.replace('3000', String(port))],
      ["'redis://127.0.0.1:6379'", JSON.stringify(REDIS_URL)],
      ["cluster: 'docs'", `cluster: ${JSON.stringify(cluster)}`],
    ] as const) {
      expect(source, `the ${pkg} snippet has ${from}`).toContain(from);
      source = source.replaceAll(from, to);
    }
    const file = join(dir, 'app', 'out', `run-${pkg}.js`);
    await writeFile(file, source);
    const child = spawn(process.execPath, [file], {
      cwd: join(dir, 'app'),
      env: { ...process.env, NODE_ID: 'n1', NODE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.resume();
    try {
      await listening(port, child);
      const res = await fetch(`${url}${request('first-key')}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ served: 'n1', owner: 'n1' });
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      expect(await exited).toEqual([0, null]);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** Resolves once something accepts connections on `port`; fails if the process exits first. */
async function listening(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the snippet exited with ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) =>
      connect(port, '127.0.0.1')
        .once('connect', function (this: import('node:net').Socket) {
          this.destroy();
          resolve(true);
        })
        .once('error', () => resolve(false)),
    );
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
