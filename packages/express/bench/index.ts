/**
 * Express + ringRoute() on owned keys vs bare Express, side by side in one run: each app in its own process,
 * autocannon here. Each round loads every app at the same time, so that whatever else the machine is doing hits
 * all alike; besides req/s, each server reports its user CPU time, giving a cost per request. Prints a markdown table.
 *
 *   pnpm --filter @ringroute/express bench
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const ROUNDS = 5;
const DURATION = 4;
const CONNECTIONS = 16;

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const script = fileURLToPath(new URL('./server.ts', import.meta.url));

interface Target {
  child: ChildProcess;
  url: string;
  paths: string[];
}

async function start(app: 'bare' | 'ringroute' | 'ringroute+monitor', expressModule: string): Promise<Target> {
  const child = spawn(process.execPath, ['--import', tsxLoader, script], {
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, BENCH_APP: app, BENCH_EXPRESS: expressModule, NODE_ENV: 'production' },
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

/** Requests per second, and the server's user CPU microseconds per request (barely skewed by what else the machine runs). */
async function load(target: Target, duration: number): Promise<{ rate: number; cpuPerRequest: number }> {
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

const rows: string[] = [];
for (const [name, module] of [['express 5', 'express'], ['express 4', 'express4']] as const) {
  const bare = await start('bare', module);
  const sides = [
    { label: 'app.use(rr)', target: await start('ringroute', module) },
    { label: 'app.use(rr.monitor()); app.use(rr)', target: await start('ringroute+monitor', module) },
  ];
  try {
    await Promise.all([bare, ...sides.map((s) => s.target)].map((t) => load(t, 2))); // warm-up (JIT, connection pools)
    const rounds: { bare: Awaited<ReturnType<typeof load>>; sides: Awaited<ReturnType<typeof load>>[] }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [b, ...s] = await Promise.all([bare, ...sides.map((side) => side.target)].map((t) => load(t, DURATION)));
      rounds.push({ bare: b!, sides: s });
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    for (const [i, side] of sides.entries()) {
      const rate = rounds.map((r) => r.sides[i]!.rate / r.bare.rate);
      const cpu = rounds.map((r) => r.bare.cpuPerRequest / r.sides[i]!.cpuPerRequest);
      rows.push(
        `| ${name} | ${side.label} | ${Math.round(median(rounds.map((r) => r.bare.rate)))} | ${Math.round(median(rounds.map((r) => r.sides[i]!.rate)))} | ${median(rate).toFixed(3)} | ${median(cpu).toFixed(3)} | ${rate.map((x, j) => `${x.toFixed(2)}/${cpu[j]!.toFixed(2)}`).join(' ')} | >= 0.95 |`,
      );
    }
  } finally {
    for (const t of [bare, ...sides.map((s) => s.target)]) t.child.kill();
  }
}

console.log(`Express + ringRoute() on owned keys vs bare Express: autocannon, ${CONNECTIONS} connections per app, ${ROUNDS} rounds of ${DURATION} s loading all apps at once; medians over rounds\n`);
console.log('ratio (req/s) = routed / bare throughput; ratio (CPU) = bare / routed server user CPU time per request (barely skewed by other load on the machine).\n');
console.log('| Express | middleware | bare req/s | routed req/s | ratio (req/s) | ratio (CPU) | every round (req/s / CPU) | target |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |');
for (const row of rows) console.log(row);
