/**
 * Owned state's handoff: 3 nodes hold BENCH_KEYS keys of BENCH_VALUE_BYTES (100,000 of 1 KB), then a 4th joins while
 * a closed loop of reads (CONNECTIONS connections to the first 3 nodes, proxy mode) runs. Reported: keys moved
 * beside the keys whose owner changed and the optimal 1/N; the time from the join until every node has handed over
 * everything (settled); read p50/p99 during the move beside steady state (the same loop just before); the CPU of
 * all four processes per key moved. Then the 4th node leaves with no load, handing its keys back: the handoff's
 * throughput beside the same bytes sent over one plain HTTP connection between two of the same processes.
 * Every node is its own process (support/handoff-node.ts) with a Redis membership on a redis-server of its own.
 *
 *   npx tsx bench/handoff.ts
 * Env: BENCH_KEYS (default 100000), BENCH_VALUE_BYTES (1024), BENCH_SECONDS (steady load, default 3),
 * BENCH_CONNECTIONS (default 16); BENCH_BATCH and BENCH_CONCURRENCY set the nodes' state.batchSize and
 * state.maxConcurrentTransfers (default: the engine's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { createRing } from '../src/index.js';
import { freePort, SpawnedRedis } from '../test/redis/server.js';
import { builtPackages } from './support/built.js';
import { fmt, summary, table, targets, verdict } from './support/measure.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);
const VALUE_BYTES = Number(process.env.BENCH_VALUE_BYTES ?? 1024);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const IDS = ['n1', 'n2', 'n3', 'n4'];
const script = fileURLToPath(new URL('./support/handoff-node.ts', import.meta.url));

interface Node {
  id: string;
  child: ChildProcess;
  url: string;
}

interface Stats {
  handoff: { done: number; received: number; bytes: number; settled: boolean; pending: number; moving: number; pulled: number };
  members: number;
  cpuMicros: number;
}

async function spawnNode(id: string, redis: string, cluster: string): Promise<Node> {
  const env = {
    BENCH_ID: id,
    BENCH_REDIS: redis,
    BENCH_CLUSTER: cluster,
    BENCH_KEYS: String(KEYS),
    BENCH_VALUE_BYTES: String(VALUE_BYTES),
  };
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: builtPackages(new URL('..', import.meta.url), env),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const [url] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { id, child, url };
}

async function ask<T>(node: Node, command: string, ...args: (string | number)[]): Promise<T> {
  node.child.send({ command, args: args.map(String) });
  const [reply] = (await once(node.child, 'message')) as [{ result?: T; error?: string }];
  if (reply.error !== undefined) throw new Error(`${node.id} ${command}: ${reply.error}`);
  return reply.result as T;
}

const stats = (nodes: Node[]) => Promise.all(nodes.map((n) => ask<Stats>(n, 'stats')));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until every node has `members` members and has handed over everything; resolves with the time (ms). */
async function settled(nodes: Node[], members: number): Promise<number> {
  for (;;) {
    const all = await stats(nodes);
    if (all.every((s) => s.members === members && s.handoff.settled)) return performance.now();
    await sleep(10);
  }
}

/** Reads answered 503 (the ring changed while the read was on its way; the client tries again at once). */
let retried = 0;

/**
 * A closed loop of reads of random keys through `urls` until `stop` resolves: each read's start time and latency
 * (ms), a 503 tried again within the same read (as a client following Retry-After would, without the wait).
 */
async function load(urls: string[], stop: Promise<unknown>): Promise<[start: number, ms: number][]> {
  const pools = urls.map((url) => new Pool(url, { connections: Math.ceil(CONNECTIONS / urls.length) }));
  const samples: [number, number][] = [];
  let running = true;
  void stop.then(() => (running = false));
  const worker = async (i: number) => {
    while (running) {
      const started = performance.now();
      const path = `/kv?key=k${Math.floor(Math.random() * KEYS)}`;
      for (let attempt = 0; ; attempt++) {
        const { statusCode, body } = await pools[(i + attempt) % pools.length]!.request({ method: 'GET', path });
        await body.dump();
        if (statusCode === 200) break;
        if (statusCode !== 503 || attempt === 20) throw new Error(`a read answered ${statusCode}`);
        retried++;
      }
      samples.push([started, performance.now() - started]);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => worker(i)));
  await Promise.all(pools.map((pool) => pool.close()));
  return samples;
}

const redis = new SpawnedRedis(await freePort());
await redis.start();
const cluster = `handoff-bench-${process.pid}`;
const nodes: Node[] = [];
try {
  for (const id of IDS) nodes.push(await spawnNode(id, redis.url, cluster));
  const [first, fourth] = [nodes.slice(0, 3), nodes[3]!];
  for (const node of first) await ask(node, 'start');
  await settled(first, 3);
  const filled = (await Promise.all(first.map((n) => ask<number>(n, 'fill')))).reduce((a, b) => a + b, 0);
  if (filled !== KEYS) throw new Error(`filled ${filled} of ${KEYS} keys`);
  const urls = first.map((n) => n.url);

  // Steady state, then the same loop while the 4th node joins and takes its keys.
  const steady = summary((await load(urls, sleep(SECONDS * 1000))).map(([, ms]) => ms));
  const before = await stats(nodes);
  let joinedAt = 0;
  let doneAt = 0;
  const moving = (async () => {
    joinedAt = performance.now();
    await ask(fourth, 'start');
    doneAt = await settled(nodes, 4);
  })();
  const during = await load(urls, moving);
  const after = await stats(nodes);
  const moveMs = doneAt - joinedAt;
  const inMove = summary(during.filter(([start, ms]) => start >= joinedAt && start + ms <= doneAt).map(([, ms]) => ms));
  const moved = after[3]!.handoff.received;
  const before4 = await createRing({ nodes: IDS.slice(0, 3).map((id) => ({ id })) });
  const after4 = await createRing({ nodes: IDS.map((id) => ({ id })) });
  let changed = 0;
  for (let i = 0; i < KEYS; i++) if (before4.owner(`k${i}`)!.id !== after4.owner(`k${i}`)!.id) changed++;
  const optimal = KEYS / IDS.length;
  const cpu = after.reduce((sum, s, i) => sum + s.cpuMicros - before[i]!.cpuMicros, 0);

  // Throughput with no load: the 4th node leaves, handing its keys back; the same bytes over one plain connection.
  const leaving = await stats([fourth]);
  const leaveMs = await ask<number>(fourth, 'leave');
  const [left] = await stats([fourth]);
  const bytes = left!.handoff.bytes - leaving[0]!.handoff.bytes;
  const behind = left!.handoff.pending + left!.handoff.moving;
  const plainMs = await ask<number>(first[0]!, 'plain', first[1]!.url, bytes);
  const mbps = (b: number, ms: number) => b / 1e6 / (ms / 1000);

  table(
    `Owned state handoff: ${KEYS.toLocaleString('en-US')} keys of ${VALUE_BYTES} B on 3 nodes, a 4th joins under ${CONNECTIONS} connections of reads (${SECONDS} s steady first): keys moved, time to done, reads during the move`,
    ['measure', 'value', 'target', 'met'],
    [
      ['keys moved (received by the new node)', moved.toLocaleString('en-US'), '-', '-'],
      [
        'moved / keys whose owner changed',
        `${fmt(moved / changed, 3)}x (${changed.toLocaleString('en-US')})`,
        '1.000x',
        verdict(moved === changed),
      ],
      [
        'moved / optimal 1/N',
        `${fmt(moved / optimal, 3)}x (${optimal.toLocaleString('en-US')})`,
        '<= 1.05x',
        verdict(moved / optimal <= 1.05),
      ],
      ['time from the join until every node settled', `${fmt(moveMs, 0)} ms`, '-', '-'],
      ['keys pulled ahead of their turn by a read', String(after[3]!.handoff.pulled), '-', '-'],
      ['CPU of the 4 processes per key moved (load included)', `${fmt(cpu / moved, 1)} us`, '-', '-'],
      ['read p50 steady / during the move', `${fmt(steady.p50, 2)} / ${fmt(inMove.p50, 2)} ms`, '-', '-'],
      [
        'read p99 steady / during the move',
        `${fmt(steady.p99, 2)} / ${fmt(inMove.p99, 2)} ms = ${fmt(inMove.p99 / steady.p99, 2)}x`,
        '<= 3x',
        verdict(inMove.p99 / steady.p99 <= 3),
      ],
      ['reads steady / during the move (503s tried again)', `${steady.n} / ${inMove.n} (${retried})`, '-', '-'],
    ],
  );
  table(
    'Throughput: the 4th node leaves (no load) vs the same bytes over one plain HTTP connection',
    ['path', 'bytes', 'ms', 'MB/s'],
    [
      [
        'handoff (leave: mark the node leaving, push, confirm, delete)',
        bytes.toLocaleString('en-US'),
        fmt(leaveMs, 0),
        fmt(mbps(bytes, leaveMs), 1),
      ],
      ['one plain HTTP POST (node process to node process)', bytes.toLocaleString('en-US'), fmt(plainMs, 0), fmt(mbps(bytes, plainMs), 1)],
      ['ratio (target >= 0.5)', '', '', `${fmt(plainMs / leaveMs, 2)} ${verdict(plainMs / leaveMs >= 0.5)}`],
      ['keys the leaving node did not hand over', '', '', String(behind)],
    ],
  );
  targets([
    [
      'keys moved by a 4th node = keys whose owner changed, <= 1.05x the optimal 1/N',
      `${fmt(moved / changed, 3)}x, ${fmt(moved / optimal, 3)}x`,
      moved === changed && moved / optimal <= 1.05,
    ],
    ['time from the join until every node settled (no target)', `${fmt(moveMs, 0)} ms`],
    [
      'read p99 during the move / steady <= 3x',
      `${fmt(inMove.p99 / steady.p99, 2)}x (${fmt(inMove.p99, 2)} / ${fmt(steady.p99, 2)} ms)`,
      inMove.p99 / steady.p99 <= 3,
    ],
    [
      'handoff throughput (a leave) / one plain HTTP connection >= 0.5x',
      `${fmt(plainMs / leaveMs, 2)}x (${fmt(mbps(bytes, leaveMs), 1)} / ${fmt(mbps(bytes, plainMs), 1)} MB/s)`,
      plainMs / leaveMs >= 0.5,
    ],
  ]);
} finally {
  for (const node of nodes) node.child.kill();
  await redis.kill();
}
