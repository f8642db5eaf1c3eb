/**
 * Relay mode beside its peers, one run: 3 Hocuspocus 3.4 servers (child processes, see relay-node.ts) on a private
 * redis-server, DOCUMENTS documents x 4 plain providers (one socket each), every client writing once a second. The
 * documents, clients and writes are the same in every case; where the clients connect is not:
 * - round robin, spread over the 3 nodes as behind a load balancer: SmartRoute relay mode, and extension-redis;
 * - every client of a document on one node: SmartRoute relay mode and redirect mode with the clients on the owner
 *   (where the client helper connects), and extension-redis with the clients on one node per document (as behind a
 *   load balancer sticky per document).
 * Each ratio compares a case with extension-redis under the same placement, never across placements.
 * Measured over the window after a warm-up: server CPU per 1,000 updates (the 3 processes, user + system; and the
 * Redis server's), Redis commands per update (INFO commandstats delta), total server RSS, Y.Doc instances held,
 * cross-client latency p50/p99. Each round runs every case once, in rotated order, with the same warm-up; the table
 * shows medians over the rounds.
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/relay.ts     (about 12 minutes)
 *   env: BENCH_DOCUMENTS=100 BENCH_WARMUP=30 BENCH_SECONDS=10 BENCH_ROUNDS=3, BENCH_ONLY, BENCH_NODE_FLAGS
 */
import { Redis } from 'ioredis';
import { ringFromJSON, type Ring, type RingSnapshotJSON } from '@ringroute/ring-core';
import * as Y from 'yjs';
import { SpawnedRedis } from '../../ring-core/test/redis/harness.js';
import { table, targets, type Target } from '../../ring-core/bench/support/measure.js';
import { RING_PATH } from '../src/index.js';
import { BrowserWebSocket, HocuspocusProvider, HocuspocusProviderWebsocket } from '../test/support/hocuspocus.js';
import { freePort, until } from '../test/support/ports.js';
import type { BenchNodeConfig } from './relay-node.js';
import { redisUsage, startNode, type BenchNode } from './support/nodes.js';

const DOCUMENTS = Number(process.env.BENCH_DOCUMENTS ?? 100);
const CLIENTS_PER_DOCUMENT = 4;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * Long enough for V8 to have optimized the hot paths: with a 2 s warm-up, a quarter of the servers measured CPU was
 * its optimizing compiler (background threads count as process CPU), i.e. start-up rather than the cost per update.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 30);
/** Extra Node flags for the server processes (BENCH_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** Where clients connect: spread round robin, or every client of a document on one node (SmartRoute: its owner). */
type Placement = 'round-robin' | 'one-node';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;

interface Result {
  name: string;
  updates: number;
  cpuPerThousand: number;
  /** The Redis server's CPU ms per 1,000 updates. */
  redisCpuPerThousand: number;
  redisPerUpdate: number;
  rssMb: number;
  documents: number;
  p50: number;
  p99: number;
  /** One update at a time on an idle cluster, writer to reader, p50 ms. */
  idleP50: number;
}

const PROBES = 50;
/** Probe updates that never reached the reader (extension-redis), over the whole run. */
let lostProbes = 0;

/**
 * Latency without queueing: after the load, one writer and one reader of one document, one update in flight
 * at a time. Round robin: on two different nodes (SmartRoute: both not the owner, two link hops); one node: both on
 * the same node (SmartRoute: the owner).
 */
async function idleLatency(urls: [string, string], documentName: string): Promise<number> {
  const [writer, reader] = urls.map((url) => {
    const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket });
    const provider = new HocuspocusProvider({ websocketProvider: socket, name: documentName, document: new Y.Doc() });
    provider.attach();
    return { socket, provider };
  }) as [
    { socket: InstanceType<typeof HocuspocusProviderWebsocket>; provider: InstanceType<typeof HocuspocusProvider> },
    { socket: InstanceType<typeof HocuspocusProviderWebsocket>; provider: InstanceType<typeof HocuspocusProvider> },
  ];
  await until(() => writer.provider.isSynced && reader.provider.isSynced, 'the probe clients synced');
  const seen = reader.provider.document.getArray<number>('probe');
  const samples: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const arrived = new Promise<void>((resolve) =>
      seen.observe(function once() {
        seen.unobserve(once);
        resolve();
      }),
    );
    const start = performance.now();
    writer.provider.document.getArray<number>('probe').push([i]);
    // extension-redis can drop an update between two nodes (then it never arrives): counted, not waited for.
    const timedOut = await Promise.race([
      arrived.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 3000)),
    ]);
    if (timedOut) lostProbes++;
    else samples.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const { provider, socket } of [writer, reader]) {
    provider.destroy();
    socket.destroy();
  }
  return percentile(
    samples.sort((x, y) => x - y),
    0.5,
  );
}

async function run(
  name: string,
  peer: BenchNodeConfig['peer'],
  placement: Placement,
  misroute: BenchNodeConfig['misroute'],
  redis: SpawnedRedis,
): Promise<Result> {
  const cluster = `bench-${peer}-${misroute}-${placement}-${Date.now().toString(36)}`;
  const nodes: BenchNode[] = [];
  for (const id of ['node-a', 'node-b', 'node-c'])
    nodes.push(await startNode({ id, redisPort: redis.port, cluster, peer, misroute }, NODE_FLAGS));
  let ring: Ring | undefined;
  if (peer === 'smartroute') {
    await until(
      async () =>
        ((await (await fetch(`${nodes[0]!.url.replace('ws', 'http')}${RING_PATH}`)).json()) as RingSnapshotJSON).nodes.length === 3,
      'three members',
    );
    ring = await ringFromJSON((await (await fetch(`${nodes[0]!.url.replace('ws', 'http')}${RING_PATH}`)).json()) as RingSnapshotJSON);
  }
  const urlOf = new Map(nodes.map((node, i) => [`node-${'abc'[i]}`, node.url]));

  const latencies: number[] = [];
  let measuring = false;
  let updates = 0;
  const clients: {
    socket: InstanceType<typeof HocuspocusProviderWebsocket>;
    provider: InstanceType<typeof HocuspocusProvider>;
    log: Y.Array<number>;
  }[] = [];
  for (let d = 0; d < DOCUMENTS; d++) {
    const documentName = `${cluster}-doc-${d}`;
    for (let c = 0; c < CLIENTS_PER_DOCUMENT; c++) {
      const url =
        placement === 'round-robin'
          ? nodes[(d * CLIENTS_PER_DOCUMENT + c) % nodes.length]!.url
          : ring
            ? urlOf.get(ring.owner(documentName)!.id)!
            : nodes[d % nodes.length]!.url;
      const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket });
      const provider = new HocuspocusProvider({ websocketProvider: socket, name: documentName, document: new Y.Doc() });
      provider.attach();
      const log = provider.document.getArray<number>('log');
      log.observe((event, transaction) => {
        if (transaction.local || !measuring) return;
        const now = performance.now();
        for (const change of event.changes.delta)
          for (const sentAt of (change.insert as number[] | undefined) ?? []) latencies.push(now - sentAt);
      });
      clients.push({ socket, provider, log });
    }
  }
  await until(() => clients.every(({ provider }) => provider.isSynced), 'every client synced', 60_000);

  // Every client writes once a second, at its own phase.
  const timers = clients.map(({ log }, i) =>
    setTimeout(() => {
      const write = () => {
        log.push([performance.now()]);
        if (measuring) updates++;
      };
      write();
      timers[i] = setInterval(write, 1000);
    }, Math.random() * 1000),
  );
  await new Promise((resolve) => setTimeout(resolve, WARMUP_SECONDS * 1000));
  const admin = new Redis(redis.url);
  const before = { stats: await Promise.all(nodes.map((node) => node.stats())), redis: await redisUsage(admin) };
  measuring = true;
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  measuring = false;
  const after = { stats: await Promise.all(nodes.map((node) => node.stats())), redis: await redisUsage(admin) };
  for (const timer of timers) clearTimeout(timer);
  for (const { provider, socket } of clients) {
    provider.destroy();
    socket.destroy();
  }
  admin.disconnect();
  // Idle latency on the warmed-up cluster, once the load's sockets are gone.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const probeName = `${cluster}-probe`;
  const owner = ring ? urlOf.get(ring.owner(probeName)!.id)! : nodes[0]!.url;
  const others = nodes.map((node) => node.url).filter((url) => url !== owner) as [string, string];
  const idleP50 = await idleLatency(placement === 'one-node' ? [owner, owner] : others, probeName);
  await Promise.all(nodes.map((node) => node.stop()));

  const cpu = after.stats.reduce((sum, s, i) => sum + s.cpu - before.stats[i]!.cpu, 0) / 1000;
  const sorted = latencies.sort((x, y) => x - y);
  return {
    name,
    updates,
    cpuPerThousand: cpu / (updates / 1000),
    redisCpuPerThousand: (after.redis.cpu - before.redis.cpu) / (updates / 1000),
    redisPerUpdate: (after.redis.commands - before.redis.commands - 2) / updates,
    rssMb: after.stats.reduce((sum, s) => sum + s.rss, 0) / 2 ** 20,
    documents: after.stats.reduce((sum, s) => sum + s.documents, 0),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    idleP50,
  };
}

/** [BENCH_ONLY name, row label, server, placement, SmartRoute's misroute, the peer row its ratios are against]. */
const CASES = [
  ['relay', 'SmartRoute relay, clients round robin', 'smartroute', 'round-robin', 'relay', 'extension-redis'],
  ['direct', "SmartRoute relay mode, a document's clients on its owner", 'smartroute', 'one-node', 'relay', 'extension-redis-one-node'],
  // Where the client helper ends up after a redirect (or connects first, from its ring): on the owner.
  [
    'redirect',
    "SmartRoute redirect mode, a document's clients on its owner",
    'smartroute',
    'one-node',
    'redirect',
    'extension-redis-one-node',
  ],
  ['extension-redis', '@hocuspocus/extension-redis 3.4, clients round robin', 'extension-redis', 'round-robin', 'relay', 'extension-redis'],
  [
    'extension-redis-one-node',
    "@hocuspocus/extension-redis 3.4, a document's clients on one node",
    'extension-redis',
    'one-node',
    'relay',
    'extension-redis-one-node',
  ],
] as const;
/** One case alone (BENCH_ONLY=relay|direct|redirect|extension-redis|extension-redis-one-node), e.g. under a profiler. */
const ONLY = process.env.BENCH_ONLY;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (values: number[]) =>
  percentile(
    [...values].sort((x, y) => x - y),
    0.5,
  );
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const redis = new SpawnedRedis(await freePort());
  await redis.start();
  const cases = CASES.filter(([only]) => !ONLY || ONLY === only);
  const rounds: Map<string, Result>[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const results = new Map<string, Result>();
      for (let i = 0; i < cases.length; i++) {
        const [only, name, peer, placement, misroute] = cases[(round + i) % cases.length]!;
        results.set(only, await run(name, peer, placement, misroute, redis));
      }
      rounds.push(results);
    }
  } finally {
    await redis.kill();
  }
  /** Median over the rounds of one figure of a case, and of its per-round ratio to extension-redis with the same placement. */
  const figure = (only: string, of: (r: Result) => number) => median(rounds.map((results) => of(results.get(only)!)));
  const versus = (only: string, of: (r: Result) => number) =>
    rounds.map((results) => {
      const peer = results.get(CASES.find(([name]) => name === only)![5]);
      return peer ? of(results.get(only)!) / of(peer) : NaN;
    });
  const cluster = (r: Result) => r.cpuPerThousand + r.redisCpuPerThousand;
  const shown = (only: string, of: (r: Result) => number, digits: number) => fixed(figure(only, of), digits);
  if (lostProbes > 0) console.log(`\n${lostProbes} idle-latency probe update(s) never reached their reader.`);
  table(
    `${DOCUMENTS} documents x ${CLIENTS_PER_DOCUMENT} clients, each writing once a second, ${SECONDS} s measured after ${WARMUP_SECONDS} s, medians of ${ROUNDS} rounds; the same documents, clients and writes in every row, rows differ in where the clients connect (round robin, or a document's clients on one node), and every ratio is against extension-redis with the same placement`,
    [
      'case',
      'updates',
      'server CPU ms / 1,000 updates',
      'vs extension-redis, same placement',
      'every round',
      '+ Redis CPU ms',
      'servers + Redis vs extension-redis',
      'Redis cmds / update',
      'vs extension-redis',
      'server RSS MB',
      'Y.Docs',
      'latency p50 ms',
      'p99 ms',
      'idle latency p50 ms',
    ],
    cases.map(([only, name]) => {
      const cpuRatios = versus(only, (r) => r.cpuPerThousand);
      return [
        name,
        figure(only, (r) => r.updates),
        shown(only, (r) => r.cpuPerThousand, 1),
        `${fixed(median(cpuRatios), 2)}x`,
        cpuRatios.map((x) => fixed(x, 2)).join(' '),
        shown(only, (r) => r.redisCpuPerThousand, 1),
        `${fixed(median(versus(only, cluster)), 2)}x`,
        shown(only, (r) => r.redisPerUpdate, 4),
        `${fixed(median(versus(only, (r) => r.redisPerUpdate)), 4)}x`,
        shown(only, (r) => r.rssMb, 0),
        figure(only, (r) => r.documents),
        shown(only, (r) => r.p50, 2),
        shown(only, (r) => r.p99, 2),
        shown(only, (r) => r.idleP50, 2),
      ];
    }),
  );
  // Issue 10's targets for relay mode, where the cases they compare ran.
  const ran = (...names: string[]) => names.every((name) => cases.some(([only]) => only === name));
  const goals: Target[] = [];
  if (ran('relay', 'extension-redis')) {
    const cpu = median(versus('relay', (r) => r.cpuPerThousand));
    const commands = median(versus('relay', (r) => r.redisPerUpdate));
    goals.push(
      ['relay: server CPU per update <= 0.5x extension-redis', `${fixed(cpu, 2)}x`, cpu <= 0.5],
      ['relay: Redis commands per update <= 0.01x extension-redis', `${fixed(commands, 4)}x`, commands <= 0.01],
    );
  }
  if (ran('relay')) {
    const documents = figure('relay', (r) => r.documents);
    goals.push(['relay: Y.Doc instances = documents', `${documents} for ${DOCUMENTS}`, documents === DOCUMENTS]);
  }
  if (ran('relay', 'direct')) {
    const added = figure('relay', (r) => r.p50) - figure('direct', (r) => r.p50);
    goals.push(['relay: latency p50 <= 1 ms over clients on the owner', `+${fixed(added, 2)} ms`, added <= 1]);
  }
  targets(goals);
}

await main();
