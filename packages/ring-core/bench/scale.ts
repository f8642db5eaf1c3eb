/**
 * Membership at scale. First the ring at 1,000 nodes x 150 vnodes beside 10 x 150: owner() and with(). Then 10,
 * 100 and 1,000 RedisMembership members in this process, each size on its own spawned redis-server (default
 * timing: syncInterval 1 s, failureTimeout 5 s): Redis commands and pub/sub messages per member per second in
 * steady state (INFO commandstats deltas), CPU per member, and the convergence of a join and of a crash (SIGKILL of
 * a member process), p50/p99 over the members observing it. Needs redis-server on PATH.
 *
 *   npx tsx bench/scale.ts
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createRing } from '../src/index.js';
import { RedisMembership, type RedisMembershipOptions } from '../src/redis/index.js';
import { Codec } from '../src/membership/codec.js';
import { freePort, SpawnedRedis } from '../test/redis/server.js';
import { BATCH, cpuNow, fmt, keys16, summary, table, targets, timeTasks } from './support/measure.js';

const SIZES = (process.env.SCALE_SIZES ?? '10,100,1000').split(',').filter(Boolean).map(Number);
/** Each member holds its own ring; 10 vnodes keep 1,000 rings in one process small (the ring's cost is measured above). */
const MEMBER_VNODES = 10;
const WINDOW = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Progress on stderr (the tables go to stdout). */
const progress = (what: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${what}\n`);

/** Waits until the predicate holds or `limit` ms pass; whether it held. */
async function until(predicate: () => boolean, limit = 60_000): Promise<boolean> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > limit) return false;
    await sleep(5);
  }
  return true;
}

// ---- the ring at 1,000 nodes ----

async function ringRows() {
  const keys = keys16(1 << 16);
  const mask = keys.length - 1;
  let cursor = 0;
  let sink = 0;
  const rows: (string | number)[][] = [];
  const measured: Record<number, { owner: number; add: number; status: number }> = {};
  for (const n of [10, 1000]) {
    const ring = await createRing({ nodes: Array.from({ length: n }, (_, i) => ({ id: `node-${i}` })) });
    const [owner, add, status] = await timeTasks([
      [
        `owner() ${n} nodes`,
        () => {
          for (let i = 0; i < BATCH; i++) if (ring.owner(keys[cursor++ & mask]!)) sink++;
        },
        BATCH,
      ],
      [`with(add) ${n} nodes`, () => ring.with({ add: [{ id: 'extra' }] }), 1],
      [`with(status) ${n} nodes`, () => ring.with({ update: [{ id: 'node-1', status: 'suspected' }] }), 1],
    ]);
    measured[n] = { owner: owner!.ns, add: add!.ns / 1e6, status: status!.ns / 1e6 };
    rows.push([`${n} x 150`, fmt(owner!.ns), fmt(add!.ns / 1e6, 3), fmt(status!.ns / 1e6, 3)]);
  }
  if (sink < 0) console.log(sink);
  const big = measured[1000]!;
  const small = measured[10]!;
  rows.push([
    '1,000 / 10',
    `${fmt(big.owner / small.owner, 2)}x`,
    `${fmt(big.add / small.add, 1)}x`,
    `${fmt(big.status / small.status, 1)}x`,
  ]);
  table(
    'Ring at 1,000 nodes beside 10 (150 vnodes, xxh32, CPU time)',
    ['nodes x vnodes', 'owner() ns', 'with(add one node) ms', 'with(status) ms'],
    rows,
  );
  targets([
    [
      'at 1,000 nodes x 150 vnodes: owner() <= 150 ns, with() <= 5 ms',
      `${fmt(big.owner)} ns, ${fmt(big.add, 3)} ms`,
      big.owner <= 150 && big.add <= 5,
    ],
  ]);
}

// ---- membership at 10, 100, 1,000 members ----

type Totals = Map<string, number>;

async function commandCalls(client: Redis): Promise<Totals> {
  const info = await client.info('commandstats');
  const calls: Totals = new Map();
  for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(name!, Number(count));
  return calls;
}

async function measureSize(n: number) {
  const server = new SpawnedRedis(await freePort());
  await server.start();
  try {
    return await measureOn(server, n);
  } finally {
    await server.kill();
  }
}

async function measureOn(server: SpawnedRedis, n: number) {
  const admin = new Redis(server.url);
  const cluster = `scale-${n}`;
  const ids = Array.from({ length: n }, (_, i) => `m${String(i).padStart(4, '0')}`);
  const url = (id: string) => `http://127.0.0.1/${id}`;
  const options = { redis: server.url, cluster, vnodes: MEMBER_VNODES } satisfies Partial<RedisMembershipOptions>;

  // Seed the snapshot with every member (as if they had joined one by one), so each start only loads it.
  const state = {
    seq: 1,
    nodes: ids.map((id) => ({ id, url: url(id) })),
    pins: {},
    members: ids,
    incarnations: Object.fromEntries(ids.map((id) => [id, 1])),
  };
  await admin.hset(`ringroute:${cluster}`, 'seq', '1', 'state', new Codec(cluster, undefined, 65_536).encode(state));

  const members = ids.map((id) => new RedisMembership({ ...options, self: { id, url: url(id) } }));
  const seen = new Map<string, number[]>(); // event "joined:x" / "left:x" -> times, one per member
  for (const m of members) {
    m.on('joined', (node) => seen.set(`joined:${node.id}`, [...(seen.get(`joined:${node.id}`) ?? []), performance.now()]));
    m.on(
      'left',
      (node, reason) => reason === 'failed' && seen.set(`left:${node.id}`, [...(seen.get(`left:${node.id}`) ?? []), performance.now()]),
    );
    m.on(
      'status',
      (node, _from, to) =>
        to === 'suspected' && seen.set(`suspected:${node.id}`, [...(seen.get(`suspected:${node.id}`) ?? []), performance.now()]),
    );
  }
  progress(`${n} members: starting`);
  const startedAt = performance.now();
  for (let i = 0; i < n; i += 50) await Promise.all(members.slice(i, i + 50).map((m) => m.start()));
  const startup = performance.now() - startedAt;
  await sleep(2000); // every member beats and reads a couple of times

  progress(`${n} members: started in ${Math.round(startup)} ms; steady state`);
  // Steady state.
  const seq0 = Number(await admin.hget(`ringroute:${cluster}`, 'seq'));
  const calls0 = await commandCalls(admin);
  const received0 = members.reduce((sum, m) => sum + m.stats().received, 0);
  const read0 = members.reduce((sum, m) => sum + m.stats().heartbeatsReceived, 0);
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await sleep(WINDOW);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  const calls1 = await commandCalls(admin);
  const changes = Number(await admin.hget(`ringroute:${cluster}`, 'seq')) - seq0;
  const delta = (name: string) => (calls1.get(name) ?? 0) - (calls0.get(name) ?? 0);
  const commands = [...calls1.keys()].filter((c) => c !== 'info').reduce((sum, c) => sum + delta(c), 0);
  const perMember = (total: number) => total / seconds / n;
  const steady = {
    commands: perMember(commands),
    byCommand: ['set', 'mget', 'hget', 'publish', 'evalsha', 'eval']
      .filter((c) => delta(c) > 0)
      .map((c) => `${c} ${fmt(perMember(delta(c)), 2)}`)
      .join(', '),
    messages: perMember(members.reduce((sum, m) => sum + m.stats().received, 0) - received0),
    reads: perMember(members.reduce((sum, m) => sum + m.stats().heartbeatsReceived, 0) - read0),
    cpu: (cpu / seconds / n / 1000) * 100, // percent of one core
    share: (cpu / seconds / 1000) * 100, // the whole process, percent of one core: how much CPU the machine gave it
    changes, // committed in the window: suspicions and refutes of members starved of CPU
  };

  progress(`${n} members: join`);
  // A join: a new member starts; each member's time until it sees the node.
  const joiner = new RedisMembership({ ...options, self: { id: 'joiner', url: url('joiner') } });
  const joinStart = performance.now();
  await joiner.start();
  await until(() => (seen.get('joined:joiner')?.length ?? 0) >= n);
  const join = observed(seen.get('joined:joiner'), joinStart);

  progress(`${n} members: crash`);
  // A crash: a member process is SIGKILLed; each member's time until the failed node is removed.
  const fixture = fileURLToPath(new URL('../test/fixtures/member.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, JSON.stringify({ ...options, self: { id: 'victim', url: url('victim') } })],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: 'ignore',
    },
  );
  let killedAt: number;
  try {
    await until(() => (seen.get('joined:victim')?.length ?? 0) >= n, 120_000);
    await sleep(3000); // a few heartbeats in
  } finally {
    killedAt = performance.now();
    child.kill('SIGKILL');
  }
  await until(() => (seen.get('left:victim')?.length ?? 0) >= n);
  const crash = observed(seen.get('left:victim'), killedAt);
  const suspected = observed(seen.get('suspected:victim'), killedAt);

  const result = { n, startup, steady, join, crash, suspected };
  progress(
    `${n} members: ${fmt(steady.commands, 2)} Redis commands/s per member; join seen by all ${ms(join.p99)} ms, crash removed ${ms(crash.p99)} ms (p99)`,
  );
  admin.disconnect();
  await server.kill(); // members turn degraded, so stop() below leaves without a change per member
  // Bounded: a change a member was proposing when the server died waits for ioredis's retries.
  await Promise.race([Promise.all([...members, joiner].map((m) => m.stop())), sleep(5000)]);
  return result;
}

/** p50/p99 over the members that observed the event, and how many did. */
function observed(times: number[] | undefined, since: number) {
  return times?.length ? { ...summary(times.map((t) => t - since)), seen: times.length } : { n: 0, p50: NaN, p99: NaN, max: NaN, seen: 0 };
}

const ms = (v: number) => fmt(v, 0);
const p = (s: ReturnType<typeof observed>, n: number) => `${ms(s.p50)} / ${ms(s.p99)}${s.seen < n ? ` (seen by ${s.seen})` : ''}`;

await ringRows();

const results = [];
for (const n of SIZES) results.push(await measureSize(n));
table(
  `Membership per member: steady state over ${WINDOW / 1000} s, default timing (syncInterval 1 s, failureTimeout 5 s)`,
  [
    'members',
    'Redis commands/s per member',
    'by command',
    'pub/sub messages/s per member',
    'heartbeats read/s per member',
    'CPU per member (% of a core)',
    'process CPU (% of a core)',
    'changes in the window',
  ],
  results.map((r) => [
    r.n,
    fmt(r.steady.commands, 2),
    r.steady.byCommand,
    fmt(r.steady.messages, 2),
    fmt(r.steady.reads, 2),
    fmt(r.steady.cpu, 3),
    fmt(r.steady.share, 0),
    r.steady.changes,
  ]),
);
table(
  'Convergence (ms from the start call or the SIGKILL; p50 / p99 over the observing members)',
  ['members', 'start of all members', 'join: seen by all', 'crash: first suspected', 'crash: removed everywhere'],
  results.map((r) => [r.n, ms(r.startup), p(r.join, r.n), p(r.suspected, r.n), p(r.crash, r.n)]),
);
const flat = results.at(-1)!.steady.commands / results[0]!.steady.commands;
targets([
  [`Redis commands per member flat from ${results[0]!.n} to ${results.at(-1)!.n} members (within 1.5x)`, `${fmt(flat, 2)}x`, flat <= 1.5],
]);
process.exit(0); // ioredis reconnect timers of the killed servers' clients would keep the process alive
