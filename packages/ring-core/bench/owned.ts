/**
 * What owned state costs per request, beside the same app keeping its state in Redis (a GET and a SET per request,
 * what users pick today). One cart app (bench/support/state-server.ts), one process per way of keeping the carts:
 * in Redis; owned by the node without persist; owned with `persist: { write: 'behind' }`; owned with
 * `write: 'through'` (both persisting to the same Redis). `POST /carts/<key>` adds an item to one of KEYS carts of
 * about 1 KB. Each variant gets the same warm-up; then each round loads every variant in turn (the order rotates
 * from round to round): first one connection (the p50 latency of a request on an idle server), then CONNECTIONS
 * connections (requests/s; CPU per request of the app process and of the Redis server, from their own counters;
 * store round trips per request, counted by the app; GET, SET, EVALSHA and EVAL commands Redis received per request, from its INFO commandstats). Medians of the rounds.
 * Redis is a redis-server of its own on a free port, so nothing else's load is counted.
 *
 *   npx tsx bench/owned.ts
 * Env: BENCH_ROUNDS (default 5), BENCH_SECONDS (per load, default 2), BENCH_WARMUP (seconds per variant, default 5),
 * BENCH_CONNECTIONS (default 16), BENCH_KEYS (default 200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, SpawnedRedis } from '../test/redis/server.js';
import { builtPackages } from './support/built.js';
import { closedLoop } from './support/load.js';
import { fmt, summary, table, targets, verdict } from './support/measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const KEYS = Number(process.env.BENCH_KEYS ?? 200);

const VARIANTS = [
  ['owned', 'owned, no persist'],
  ['owned-behind', "owned, persist write: 'behind'"],
  ['owned-through', "owned, persist write: 'through'"],
  ['redis', 'state in Redis (GET + SET per request)'],
] as const;
type Variant = (typeof VARIANTS)[number][0];

const script = fileURLToPath(new URL('./support/state-server.ts', import.meta.url));

interface Server {
  child: ChildProcess;
  origin: string;
}

async function start(variant: Variant, redisUrl: string): Promise<Server> {
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: builtPackages(new URL('..', import.meta.url), { BENCH_VARIANT: variant, BENCH_REDIS: redisUrl }),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, origin: line };
}

async function counters(child: ChildProcess): Promise<{ cpuMicros: number; commands: number }> {
  child.send('counters');
  const [reply] = (await once(child, 'message')) as [{ cpuMicros: number; commands: number }];
  return reply;
}

/** Commands apps send (the commands scripts run inside Redis count in INFO's total too, so they are left out). */
const APP_COMMANDS = ['get', 'set', 'evalsha', 'eval'];

/** The Redis server's CPU time (µs) and the commands apps sent it, from INFO. */
async function redisCounters(redis: Redis): Promise<{ cpuMicros: number; commands: number }> {
  const info = await redis.info('all');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)![1]);
  const calls = (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    cpuMicros: (field('used_cpu_user') + field('used_cpu_sys')) * 1e6,
    commands: APP_COMMANDS.reduce((sum, command) => sum + calls(command), 0),
  };
}

let sku = 0;
const path = (i: number) => `/carts/cart-${(i * 7919) % KEYS}?sku=sku-${sku++}`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Round {
  p50Idle: number;
  p50: number;
  rps: number;
  appCpu: number;
  redisCpu: number;
  roundTrips: number;
  commands: number;
}

async function measure(server: Server, admin: Redis): Promise<Round> {
  const idle = await closedLoop(server.origin, { connections: 1, ms: (SECONDS * 1000) / 2, method: 'POST', path });
  const [app0, redis0] = await Promise.all([counters(server.child), redisCounters(admin)]);
  const started = performance.now();
  const loaded = await closedLoop(server.origin, { connections: CONNECTIONS, ms: SECONDS * 1000, method: 'POST', path });
  const seconds = (performance.now() - started) / 1000;
  const [app1, redis1] = await Promise.all([counters(server.child), redisCounters(admin)]);
  const n = loaded.count;
  return {
    p50Idle: summary(idle.latencies).p50,
    p50: summary(loaded.latencies).p50,
    rps: n / seconds,
    appCpu: (app1.cpuMicros - app0.cpuMicros) / n,
    redisCpu: (redis1.cpuMicros - redis0.cpuMicros) / n,
    roundTrips: (app1.commands - app0.commands) / n,
    commands: (redis1.commands - redis0.commands) / n,
  };
}

const redisServer = new SpawnedRedis(await freePort());
await redisServer.start();
const admin = new Redis(redisServer.url);
const servers = new Map<Variant, Server>();
try {
  for (const [variant] of VARIANTS) servers.set(variant, await start(variant, redisServer.url));
  for (const [variant, server] of servers) {
    // A cart grows with each request: the app works.
    const first = await fetch(`${server.origin}/carts/check?sku=a`, { method: 'POST' }).then((r) => r.json());
    const second = await fetch(`${server.origin}/carts/check?sku=b`, { method: 'POST' }).then((r) => r.json());
    if ((second as { items: number }).items !== (first as { items: number }).items + 1)
      throw new Error(`${variant}: the cart did not grow`);
    await closedLoop(server.origin, { connections: CONNECTIONS, ms: WARMUP * 1000, method: 'POST', path });
  }
  const rounds = new Map<Variant, Round[]>(VARIANTS.map(([variant]) => [variant, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]![0]);
    for (const variant of order) rounds.get(variant)!.push(await measure(servers.get(variant)!, admin));
  }
  const med = (variant: Variant, field: keyof Round) => median(rounds.get(variant)!.map((r) => r[field]));
  const rows = VARIANTS.map(([variant, label]) => [
    label,
    fmt(med(variant, 'rps'), 0),
    fmt(med(variant, 'appCpu')),
    fmt(med(variant, 'redisCpu')),
    fmt(med(variant, 'appCpu') + med(variant, 'redisCpu')),
    fmt(med(variant, 'p50Idle'), 3),
    fmt(med(variant, 'p50'), 3),
    fmt(med(variant, 'roundTrips'), 3),
    fmt(med(variant, 'commands'), 3),
  ]);
  table(
    `Cost per request: ${KEYS} carts of about 1 KB; ${ROUNDS} rounds (rotated order) of ${SECONDS / 2} s at 1 connection and ${SECONDS} s at ${CONNECTIONS} connections per variant after ${WARMUP} s of warm-up each; medians`,
    [
      'state kept',
      `req/s (${CONNECTIONS} conn.)`,
      'app CPU µs/req',
      'Redis CPU µs/req',
      'app + Redis CPU µs/req',
      'p50 ms (1 conn.)',
      `p50 ms (${CONNECTIONS} conn.)`,
      'store round trips/req',
      'Redis commands/req',
    ],
    rows,
  );
  // Per-round ratios against the Redis-backed app measured in the same round, then their medians.
  const peer = rounds.get('redis')!;
  const ratio = (variant: Variant, cost: (r: Round) => number) => median(rounds.get(variant)!.map((r, i) => cost(r) / cost(peer[i]!)));
  const owned = VARIANTS.filter(([variant]) => variant !== 'redis').map(([variant, label]) => ({
    variant,
    label,
    cpu: ratio(variant, (r) => r.appCpu + r.redisCpu),
    appCpu: ratio(variant, (r) => r.appCpu),
    idle: ratio(variant, (r) => r.p50Idle),
    loaded: ratio(variant, (r) => r.p50),
    trips: med(variant, 'roundTrips') / med('redis', 'roundTrips'),
  }));
  const ratioRows = owned.map(({ variant, label, cpu, appCpu, idle, loaded, trips }) => {
    // 'behind' must need far fewer store round trips: at most a tenth of the Redis-backed app's.
    const ok = cpu < 1 && appCpu < 1 && idle < 1 && loaded < 1 && (variant !== 'owned-behind' || trips <= 0.1);
    return [label, fmt(appCpu, 3), fmt(cpu, 3), fmt(idle, 3), fmt(loaded, 3), fmt(trips, 3), verdict(ok)];
  });
  type Measure = 'cpu' | 'appCpu' | 'idle' | 'loaded';
  /** A measure's ratio in every mode (no persist / 'behind' / 'through'), and whether all of them are below 1. */
  const perMode = (measure: Measure) => owned.map((o) => fmt(o[measure], 3)).join(' / ');
  const below1 = (...measures: Measure[]) => owned.every((o) => measures.every((measure) => o[measure] < 1));
  const commands = med('owned-behind', 'commands') / med('redis', 'commands');
  table(
    'Against the Redis-backed app (per-round ratios, medians; below 1 is cheaper or faster)',
    ['state kept', 'app CPU', 'app + Redis CPU', 'p50 (1 conn.)', `p50 (${CONNECTIONS} conn.)`, 'store round trips', 'cheaper and faster'],
    ratioRows,
  );
  targets([
    [
      "owned state / the Redis-backed app, CPU per request < 1x, app + Redis (app alone): no persist / 'behind' / 'through'",
      `${perMode('cpu')}x (${perMode('appCpu')}x)`,
      below1('cpu', 'appCpu'),
    ],
    [
      `owned state / the Redis-backed app, p50 latency < 1x, 1 connection (${CONNECTIONS}): no persist / 'behind' / 'through'`,
      `${perMode('idle')}x (${perMode('loaded')}x)`,
      below1('idle', 'loaded'),
    ],
    [
      "'behind' / the Redis-backed app, Redis commands per request <= 0.1x",
      `${fmt(commands, 3)}x (${fmt(med('owned-behind', 'commands'), 3)} vs ${fmt(med('redis', 'commands'), 3)})`,
      commands <= 0.1,
    ],
  ]);
} finally {
  for (const { child } of servers.values()) child.kill();
  admin.disconnect();
  await redisServer.kill();
}
