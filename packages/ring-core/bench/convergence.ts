/**
 * Membership convergence: 10 members in one process; the time from a join or leave until all 10 rings have the
 * same checksum, over 100 changes, on a real Redis (RedisMembership) beside the in-process floor (MemoryMembership).
 * Then failure detection: a member in a child process is killed with SIGKILL and the time until the others suspect
 * and remove it is compared with the configured failureTimeout.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/convergence.ts
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { MemoryBus, MemoryMembership, type Membership } from '../src/index.js';
import { RedisMembership } from '../src/redis/index.js';
import { summary, table, targets } from './support/measure.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MEMBERS = 10;
const CHANGES = 100;
const REAL_JOINS = 20;
const KILLS = 5;
const detection = { syncInterval: 100, failureTimeout: 500 };

const cluster = (name: string) => `bench-${name}-${process.pid}-${Date.now()}`;
const clusters: string[] = [];

/** Tracks when each member last changed its ring; resolves when all hold `checksum` through changes made after `since`. */
function watch(members: Membership[]) {
  const last = members.map(() => ({ checksum: '', at: 0 }));
  members.forEach((m, i) => m.on('ring', (ring) => (last[i] = { checksum: ring.checksum, at: performance.now() })));
  return async (checksum: string, since: number): Promise<number> => {
    while (!last.every((l) => l.checksum === checksum && l.at >= since)) await new Promise((r) => setImmediate(r));
    return Math.max(...last.map((l) => l.at));
  };
}

/** 100 admin joins/leaves of a node, issued by one member; time until every member's ring agrees. */
async function adminChanges(members: Membership[]): Promise<number[]> {
  const agreed = watch(members);
  const samples: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const start = performance.now();
    if (i % 2 === 0) await members[i % MEMBERS]!.add({ id: `extra-${i}`, url: 'http://127.0.0.1:1/' });
    else await members[i % MEMBERS]!.remove(`extra-${i - 1}`);
    samples.push((await agreed(members[i % MEMBERS]!.ring.checksum, start)) - start);
  }
  return samples;
}

/** A new member process joins (start) and leaves (stop); time until the 10 others agree. */
async function realJoins(members: Membership[], create: (id: string) => Membership): Promise<number[]> {
  const agreed = watch(members);
  const samples: number[] = [];
  for (let i = 0; i < REAL_JOINS; i++) {
    const joiner = create(`joiner-${i}`);
    let start = performance.now();
    await joiner.start();
    samples.push((await agreed(joiner.ring.checksum, start)) - start);
    start = performance.now();
    await joiner.stop();
    samples.push((await agreed(joiner.ring.checksum, start)) - start);
  }
  return samples;
}

async function group(create: (id: string) => Membership): Promise<Membership[]> {
  const members = Array.from({ length: MEMBERS }, (_, i) => create(`m${String(i).padStart(2, '0')}`));
  await Promise.all(members.map((m) => m.start()));
  while (!members.every((m) => m.ring.nodes.length === MEMBERS && m.ring.checksum === members[0]!.ring.checksum))
    await new Promise((r) => setTimeout(r, 5));
  return members;
}

async function convergence() {
  const bus = new MemoryBus();
  const memory = (id: string) => new MemoryMembership({ bus, self: { id, url: `http://127.0.0.1/${id}` } });
  const name = cluster('convergence');
  clusters.push(name);
  const redis = (id: string) => new RedisMembership({ redis: REDIS_URL, cluster: name, self: { id, url: `http://127.0.0.1/${id}` } });
  const rows: Record<string, { n: number; p50: number; p99: number; max: number }> = {};
  for (const [label, create] of [
    ['memory', memory],
    ['redis', redis],
  ] as const) {
    const members = await group(create);
    rows[`${label}: admin join/leave`] = summary(await adminChanges(members));
    rows[`${label}: member start/stop`] = summary(await realJoins(members, create));
    await Promise.all(members.map((m) => m.stop()));
  }
  return rows;
}

/** A child-process member is killed (SIGKILL); the in-process members time its suspicion and removal. */
async function failureDetection() {
  const name = cluster('detection');
  clusters.push(name);
  const options = { redis: REDIS_URL, cluster: name, ...detection };
  const members = await group((id) => new RedisMembership({ ...options, self: { id } }));
  const fixture = fileURLToPath(new URL('../test/fixtures/member.ts', import.meta.url));
  const suspected: number[] = [];
  const removed: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const id = `victim-${i}`;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ ...options, self: { id } })], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: 'ignore',
    });
    while (!members.every((m) => m.ring.node(id))) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 3 * detection.syncInterval)); // a few heartbeats in
    const killedAt = performance.now();
    child.kill('SIGKILL');
    while (!members.some((m) => m.ring.node(id)?.status === 'suspected' || !m.ring.node(id))) await new Promise((r) => setTimeout(r, 1));
    suspected.push(performance.now() - killedAt);
    while (members.some((m) => m.ring.node(id))) await new Promise((r) => setTimeout(r, 1));
    removed.push(performance.now() - killedAt);
  }
  await Promise.all(members.map((m) => m.stop()));
  return { suspected: summary(suspected), removed: summary(removed) };
}

const ms = (v: number) => v.toFixed(2);
const rows = await convergence();
table(
  `Membership convergence: ${MEMBERS} members in one process, ${CHANGES} admin changes, ${REAL_JOINS} member start+stop pairs (ms until all rings agree)`,
  ['backend: change', 'n', 'p50', 'p99', 'max'],
  Object.entries(rows).map(([label, s]) => [label, s.n, ms(s.p50), ms(s.p99), ms(s.max)]),
);

const detected = await failureDetection();
const expected = { suspected: detection.failureTimeout, removed: 2 * detection.failureTimeout };
table(
  `Failure detection: SIGKILL of a member process, ${KILLS} times; syncInterval ${detection.syncInterval} ms, failureTimeout ${detection.failureTimeout} ms`,
  ['event', 'expected', 'p50', 'max', 'p50 / expected'],
  (['suspected', 'removed'] as const).map((event) => [
    event,
    expected[event],
    ms(detected[event].p50),
    ms(detected[event].max),
    (detected[event].p50 / expected[event]).toFixed(2),
  ]),
);

const p99 = (change: string) => rows[`redis: ${change}`]!.p99;
const ratio = (change: string) => (rows[`redis: ${change}`]!.p50 / rows[`memory: ${change}`]!.p50).toFixed(1);
targets([
  [
    'Redis: p99 until all agree <= 50 ms, admin join/leave / member start/stop',
    `${ms(p99('admin join/leave'))} / ${ms(p99('member start/stop'))} ms (p50 ${ratio('admin join/leave')}x / ${ratio('member start/stop')}x memory's)`,
    Math.max(p99('admin join/leave'), p99('member start/stop')) <= 50,
  ],
  [
    `failure detection p50, suspected / removed (expected ${expected.suspected} / ${expected.removed} ms; no target)`,
    `${ms(detected.suspected.p50)} / ${ms(detected.removed.p50)} ms`,
  ],
]);

const cleanup = new Redis(REDIS_URL);
await cleanup.del(...clusters.map((c) => `ringroute:${c}`));
cleanup.disconnect();
