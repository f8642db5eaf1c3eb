/**
 * Express + ringRoute() on owned keys vs bare Express, side by side in one run: each app in its own process,
 * autocannon here. Each comparison runs its two sides back to back, alternating which goes first (ABBA), and reports
 * the median of the per-round ratios: on a shared 2-core machine only adjacent runs see the same background load, and
 * one server at a time keeps autocannon and the server on a core each. Besides req/s, each server reports its CPU
 * time (user + system), giving a cost per request. Prints a markdown table.
 *
 *   pnpm --filter @ringroute/express bench      (env BENCH_SECONDS, default 3; BENCH_ROUNDS, default 6;
 *   BENCH_WARMUP s per server, default 5; BENCH_ONLY = owned | proxy: those comparisons only)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { builtPackages } from '../../ring-core/bench/support/built.js';
import { table, targets as declareTargets, type Target as Goal } from '../../ring-core/bench/support/measure.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CONNECTIONS = 16;
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const ONLY = process.env.BENCH_ONLY;

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const script = fileURLToPath(new URL('./server.ts', import.meta.url));

type App = 'bare' | 'noop' | 'ringroute' | 'ringroute+monitor' | 'ringroute+proxy' | 'undici';

interface Target {
  child: ChildProcess;
  url: string;
  paths: string[];
}

interface Run {
  rate: number;
  cpuPerRequest: number;
}

async function start(app: App, expressModule: string, owner = ''): Promise<Target> {
  const child = spawn(process.execPath, ['--import', tsxLoader, script], {
    env: builtPackages(new URL('..', import.meta.url), {
      BENCH_APP: app,
      BENCH_EXPRESS: expressModule,
      BENCH_OWNER: owner,
      NODE_ENV: 'production',
    }),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, ...(JSON.parse(line) as { url: string; paths: string[] }) };
}

async function cpuMicros(target: Target): Promise<number> {
  target.child.send('cpu');
  const [reply] = (await once(target.child, 'message')) as [{ cpuMicros: number }];
  return reply.cpuMicros;
}

/** Requests per second, and the server's CPU microseconds (user + system) per request. */
async function load(target: Target, duration: number): Promise<Run> {
  const cpuBefore = await cpuMicros(target);
  const result = await autocannon({
    url: target.url,
    connections: CONNECTIONS,
    duration,
    requests: target.paths.map((path) => ({ method: 'GET', path })),
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${target.url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return { rate: result.requests.average, cpuPerRequest: ((await cpuMicros(target)) - cpuBefore) / result.requests.total };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

const comparisons: [label: string, ours: App, peerLabel: string, peer: App][] = [
  ['app.use(rr)', 'ringroute', 'bare Express', 'bare'],
  ['app.use(rr.monitor()); app.use(rr)', 'ringroute+monitor', 'bare Express', 'bare'],
  ['app.use(rr)', 'ringroute', 'bare + one pass-through app.use()', 'noop'],
  // Both proxy every request to the same owner: the bare server's process.
  ['app.use(rr), proxying to the owner', 'ringroute+proxy', "bare + undici's stream() to the owner", 'undici'],
];

const rows: (string | number)[][] = [];
/** Per comparison, each Express major's req/s ratio. */
const ratios = new Map<string, [express: string, ratio: number][]>();
for (const [name, module] of [
  ['express 5', 'express'],
  ['express 4', 'express4'],
] as const) {
  const targets = new Map<App, Target>();
  for (const app of ['bare', 'noop', 'ringroute', 'ringroute+monitor'] as const) targets.set(app, await start(app, module));
  for (const app of ['ringroute+proxy', 'undici'] as const) targets.set(app, await start(app, module, targets.get('bare')!.url));
  try {
    for (const target of targets.values()) await load(target, WARMUP); // warm-up (JIT, connection pools)
    for (const [label, ours, peerLabel, peer] of comparisons) {
      if (ONLY !== undefined && (ours === 'ringroute+proxy') !== (ONLY === 'proxy')) continue;
      const sides: { ours: Run; peer: Run }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const first = round % 2 === 0 ? ours : peer;
        const a = await load(targets.get(first)!, SECONDS);
        const b = await load(targets.get(first === ours ? peer : ours)!, SECONDS);
        sides.push(first === ours ? { ours: a, peer: b } : { ours: b, peer: a });
      }
      const rate = sides.map((s) => s.ours.rate / s.peer.rate);
      const cpu = sides.map((s) => s.peer.cpuPerRequest / s.ours.cpuPerRequest);
      const ratio = median(rate);
      rows.push([
        name,
        label,
        peerLabel,
        Math.round(median(sides.map((s) => s.peer.rate))),
        Math.round(median(sides.map((s) => s.ours.rate))),
        median(sides.map((s) => s.peer.cpuPerRequest)).toFixed(1),
        median(sides.map((s) => s.ours.cpuPerRequest)).toFixed(1),
        ratio.toFixed(3),
        median(cpu).toFixed(3),
        rate.map((x, j) => `${x.toFixed(2)}/${cpu[j]!.toFixed(2)}`).join(' '),
      ]);
      const comparison = `${label} / ${peerLabel}`;
      ratios.set(comparison, [...(ratios.get(comparison) ?? []), [name, ratio]]);
    }
  } finally {
    for (const t of targets.values()) t.child.kill();
  }
}

table(
  `Express middleware beside its peers: autocannon ${CONNECTIONS} connections, one server loaded at a time, ${ROUNDS} paired rounds x ${SECONDS} s (ABBA), medians of per-round ratios; ratio (CPU) = peer / routed server CPU time (user + system) per request`,
  [
    'Express',
    'middleware',
    'peer',
    'peer req/s',
    'routed req/s',
    'peer CPU µs/req',
    'routed CPU µs/req',
    'ratio (req/s)',
    'ratio (CPU)',
    'every round (req/s / CPU)',
  ],
  rows,
);
declareTargets(
  [...ratios].map(([comparison, each]): Goal => [
    `${comparison}, req/s >= 0.95 (${each.map(([name]) => name).join(' / ')})`,
    each.map(([, ratio]) => ratio.toFixed(3)).join(' / '),
    each.every(([, ratio]) => ratio >= 0.95),
  ]),
);
