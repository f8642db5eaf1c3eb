/**
 * Scale figures, SmartRoute (relay mode) beside @hocuspocus/extension-redis 3.4 in one run: for each peer, 3 fresh
 * Hocuspocus 3.4 server processes (relay-node.ts, the built packages) on one private redis-server.
 *
 * 1. Client cost: what one connection costs this process, for the lightweight `WireClient` the benchmark uses and
 *    for an `@hocuspocus/provider` (with its own socket, as a browser tab has).
 * 2. Idle connections: IDLE_CONNECTIONS clients spread round robin over the 3 nodes (most of them land on a node
 *    that does not own their document: relayed), IDLE_DOCUMENTS documents, each client authenticated and synced,
 *    then idle as a provider is (awareness renewed every 15 s, the server's pings). Memory per connection: the 3
 *    processes' RSS and heap after a full GC, minus the same before the clients came; idle CPU per node over
 *    IDLE_SECONDS; Redis commands per second.
 * 3. Join storm: a document whose stored state is STORM_MB (read from a file by every node that loads it, as from a
 *    database), opened at once by STORM_CLIENTS clients through HAProxy round robin: time until every client has its
 *    second sync step, peak RSS of the busiest node (sampled every 10 ms), server CPU, Redis commands.
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/scale.ts     (also part of `pnpm bench`; 5-11 minutes on a busy 2-core machine)
 *   env: BENCH_IDLE_CONNECTIONS=10000 BENCH_IDLE_DOCUMENTS=1000 BENCH_IDLE_SECONDS=30 BENCH_STORM_CLIENTS=500
 *        BENCH_STORM_MB=2 BENCH_CLIENT_SAMPLE=300 BENCH_ONLY=clients|idle|storm
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import type { RingSnapshotJSON } from '@ringroute/ring-core';
import * as Y from 'yjs';
import { table, targets, type Target } from '../../ring-core/bench/support/measure.js';
import { SpawnedRedis } from '../../ring-core/test/redis/harness.js';
import { RING_PATH } from '../src/index.js';
import { startRoundRobin } from '../test/support/haproxy.js';
import { BrowserWebSocket, HocuspocusProvider, HocuspocusProviderWebsocket } from '../test/support/hocuspocus.js';
import { freePort, until } from '../test/support/ports.js';
import type { BenchNodeConfig } from './relay-node.js';
import { redisUsage, startNode, type BenchNode } from './support/nodes.js';
import { WireClient } from './support/wire-client.js';

const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000);
const IDLE_DOCUMENTS = Number(process.env.BENCH_IDLE_DOCUMENTS ?? 1_000);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const STORM_CLIENTS = Number(process.env.BENCH_STORM_CLIENTS ?? 500);
const STORM_MB = Number(process.env.BENCH_STORM_MB ?? 2);
const CLIENT_SAMPLE = Number(process.env.BENCH_CLIENT_SAMPLE ?? 300);
/** Clients connecting at once while the idle connections are opened (a steady ramp, not a storm). */
const CONNECTING_AT_ONCE = 200;
const STORM_TIMEOUT_MS = 180_000;
const Y_HUB_MB_PER_CONNECTION = 0.0024;

type Peer = BenchNodeConfig['peer'];
const PEERS: [Peer, string][] = [
  ['smartroute', 'SmartRoute (relay)'],
  ['extension-redis', '@hocuspocus/extension-redis 3.4'],
];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const ratio = (value: number, peer: number) => (Number.isFinite(value / peer) ? `${(value / peer).toFixed(2)}x` : 'n/a');
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
const allStats = (nodes: BenchNode[], request?: Parameters<BenchNode['stats']>[0]) => Promise.all(nodes.map((node) => node.stats(request)));
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
/** MB per idle connection, from the nodes' growth in bytes. */
const perConnection = (growth: number[]) => sum(growth) / IDLE_CONNECTIONS / MB;
const awareness = (i: number) => ({ clientId: 1 + i, state: { user: { name: `client ${i}`, color: '#7aa2ff' } } });

/** This process's open-file limit: one socket per client, so the idle phase needs IDLE_CONNECTIONS of them and more. */
function requireFileLimit(needed: number): void {
  const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  if (limit < needed) throw new Error(`scale bench: ${needed} open files needed, the limit is ${limit}: raise it (ulimit -n ${needed})`);
}

async function startCluster(peer: Peer, redis: SpawnedRedis, seed?: BenchNodeConfig['seed']): Promise<BenchNode[]> {
  const cluster = `bench-scale-${peer}-${Date.now().toString(36)}`;
  // Quiet: a storm makes Hocuspocus log every connection it closes; what matters is counted in the tables.
  const nodes = await Promise.all(
    ['node-a', 'node-b', 'node-c'].map((id) => startNode({ id, redisPort: redis.port, cluster, peer, seed }, [], true)),
  );
  if (peer === 'smartroute')
    await until(
      async () => ((await (await fetch(`http://127.0.0.1:${nodes[0]!.port}${RING_PATH}`)).json()) as RingSnapshotJSON).nodes.length === 3,
      'three members',
    );
  return nodes;
}

/** Opens `count` clients, CONNECTING_AT_ONCE at a time, client i on urls[i % urls.length]; resolves once all synced. */
async function connectAll(urls: string[], count: number, documentName: (i: number) => string): Promise<WireClient[]> {
  const clients: WireClient[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const client = new WireClient(urls[i % urls.length]!, documentName(i), { awareness: awareness(i) });
      clients.push(client);
      await client.synced;
    }
  };
  await Promise.all(Array.from({ length: CONNECTING_AT_ONCE }, lane));
  return clients;
}

interface ClientCost {
  name: string;
  cpuMs: number;
  heapKb: number;
  rssKb: number;
}

/** What CLIENT_SAMPLE connections cost this process (CPU to connect and sync, heap and RSS held after a full GC). */
async function clientCost(name: string, open: (i: number) => Promise<() => void>): Promise<ClientCost> {
  gc();
  const before = { cpu: cpuMs(), ...process.memoryUsage() };
  const closers = await Promise.all(Array.from({ length: CLIENT_SAMPLE }, (_, i) => open(i)));
  const cpu = cpuMs() - before.cpu;
  await sleep(500);
  gc();
  const after = process.memoryUsage();
  for (const close of closers) close();
  return {
    name,
    cpuMs: cpu / CLIENT_SAMPLE,
    heapKb: (after.heapUsed - before.heapUsed) / CLIENT_SAMPLE / 1024,
    rssKb: (after.rss - before.rss) / CLIENT_SAMPLE / 1024,
  };
}

/** Each kind measured on its second round (the first one warms its code up). */
async function clientCosts(url: string): Promise<ClientCost[]> {
  const costs: ClientCost[] = [];
  for (let round = 0; round < 2; round++) costs.splice(0, 2, ...(await clientCostRound(url, `${Date.now().toString(36)}-${round}`)));
  return costs;
}

async function clientCostRound(url: string, tag: string): Promise<ClientCost[]> {
  const wire = await clientCost('`WireClient` (raw `ws`, used below)', async (i) => {
    const client = new WireClient(url, `cost-wire-${tag}-${i % 30}`, { awareness: awareness(i) });
    await client.synced;
    return () => client.close();
  });
  const provider = await clientCost('`@hocuspocus/provider` 3.4 + its own `HocuspocusProviderWebsocket`', async (i) => {
    const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket });
    const p = new HocuspocusProvider({ websocketProvider: socket, name: `cost-provider-${tag}-${i % 30}`, document: new Y.Doc() });
    p.attach();
    await new Promise<void>((resolve) => (p.isSynced ? resolve() : p.on('synced', () => resolve())));
    return () => {
      p.destroy();
      socket.destroy();
    };
  });
  return [wire, provider];
}

interface IdleResult {
  connectSeconds: number;
  rss: number[];
  heap: number[];
  connections: number[];
  documents: number;
  cpuPercent: number[];
  redisPerSecond: number;
  clientHeapKb: number;
}

async function idle(peer: Peer, redis: SpawnedRedis): Promise<IdleResult> {
  const nodes = await startCluster(peer, redis);
  const urls = nodes.map((node) => node.url);
  const admin = new Redis(redis.url);
  try {
    // Warm-up: the same path a few hundred times, so that what follows is memory per connection, not code.
    for (const client of await connectAll(urls, 600, (i) => `warm-${Math.floor(i / 10)}`)) client.close();
    await sleep(1000);
    const before = await allStats(nodes, { gc: true });
    gc();
    const clientHeap = process.memoryUsage().heapUsed;
    const started = performance.now();
    // The clients of one document arrive one after another, so the balancer's round robin spreads them over the nodes.
    const clients = await connectAll(urls, IDLE_CONNECTIONS, (i) => `idle-${Math.floor((i * IDLE_DOCUMENTS) / IDLE_CONNECTIONS)}`);
    const connectSeconds = (performance.now() - started) / 1000;
    await sleep(2000);
    const after = await allStats(nodes, { gc: true });
    gc();
    const clientHeapKb = (process.memoryUsage().heapUsed - clientHeap) / IDLE_CONNECTIONS / 1024;

    const cpu0 = await allStats(nodes);
    const redis0 = await redisUsage(admin);
    await sleep(IDLE_SECONDS * 1000);
    const cpu1 = await allStats(nodes);
    const redis1 = await redisUsage(admin);
    for (const client of clients) client.close();
    return {
      connectSeconds,
      rss: after.map((s, i) => s.rss - before[i]!.rss),
      heap: after.map((s, i) => s.heapUsed - before[i]!.heapUsed),
      connections: after.map((s) => s.connections),
      documents: sum(after.map((s) => s.documents)),
      cpuPercent: cpu1.map((s, i) => ((s.cpu - cpu0[i]!.cpu) / 1000 / (IDLE_SECONDS * 1000)) * 100),
      redisPerSecond: (redis1.commands - redis0.commands - 2) / IDLE_SECONDS,
      clientHeapKb,
    };
  } finally {
    admin.disconnect();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/** A document of about `mb` MB: pseudo-random insertions into a Y.Text, as a long-edited document has. */
function seedDocument(mb: number): { update: Uint8Array; length: number } {
  const doc = new Y.Doc();
  doc.clientID = 1;
  const text = doc.getText('content');
  let state = 42;
  const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const chunk = 'The quick brown fox jumps over the lazy dog; collaborative editing at scale needs routing. '.repeat(2);
  while (Y.encodeStateAsUpdate(doc).byteLength < mb * MB)
    doc.transact(() => {
      for (let i = 0; i < 500; i++) text.insert(Math.floor(random() * (text.length + 1)), chunk);
    });
  return { update: Y.encodeStateAsUpdate(doc), length: text.length };
}

interface StormResult {
  synced: number;
  /** Why the others never synced: count per reason. */
  failures: Map<string, number>;
  /** Ring epochs that went by during the storm (SmartRoute: members suspected or declared dead, and back). */
  ringChanges: number | undefined;
  /** SmartRoute: relayed connections sent to an owner again (the owner refused them or their node link dropped). */
  repointed: number | undefined;
  /** The longest event-loop stall of any node, ms. */
  maxLoopDelayMs: number;
  allSyncedSeconds: number;
  p50Seconds: number;
  busiestPeakMb: number;
  busiestGrowthMb: number;
  cpuSeconds: number;
  redisCommands: number;
  documents: number;
  verified: boolean;
}

/** SmartRoute's ring epoch (node-a's view) and its relays' re-points (all nodes), from their monitoring routes. */
async function smartRouteFigures(peer: Peer, nodes: BenchNode[]): Promise<{ epoch: number; repointed: number } | undefined> {
  if (peer !== 'smartroute') return undefined;
  const { epoch } = (await (await fetch(`http://127.0.0.1:${nodes[0]!.port}/api/routes/stats`)).json()) as { epoch: number };
  let repointed = 0;
  for (const node of nodes) {
    const metrics = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    repointed += Number(/^ringroute_hocuspocus_relay_total\{[^}]*event="repointed"\} (\d+)$/m.exec(metrics)?.[1] ?? NaN);
  }
  return { epoch, repointed };
}

async function storm(peer: Peer, redis: SpawnedRedis, seed: { prefix: string; file: string }, expected: number): Promise<StormResult> {
  const nodes = await startCluster(peer, redis, seed);
  const balancer = await startRoundRobin(nodes.map((node) => node.port));
  const admin = new Redis(redis.url);
  try {
    // Warm-up: a few clients open another copy of the document, which then unloads (no clients left).
    const warm = await connectAll([balancer.url], 12, () => `${seed.prefix}warm`);
    for (const client of warm) client.close();
    await sleep(2000);
    const figures0 = await smartRouteFigures(peer, nodes);
    const before = await allStats(nodes, { gc: true, watchPeak: true });
    const redis0 = await redisUsage(admin);
    const started = performance.now();
    const name = `${seed.prefix}storm`;
    const clients = Array.from(
      { length: STORM_CLIENTS },
      (_, i) => new WireClient(balancer.url, name, { awareness: awareness(i), keepUpdate: i === 0 }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<{ failure: string }>(
      (resolve) => (timer = setTimeout(() => resolve({ failure: `not synced within ${STORM_TIMEOUT_MS / 1000} s` }), STORM_TIMEOUT_MS)),
    );
    const outcomes = await Promise.all(
      clients.map((client) =>
        Promise.race([client.synced.then((synced) => ({ ...synced, at: performance.now() - started })), deadline]).catch(
          (error: Error) => ({
            failure: error.message.replace(`${name}: `, ''),
          }),
        ),
      ),
    );
    clearTimeout(timer);
    const after = await allStats(nodes, { watchPeak: false });
    const redis1 = await redisUsage(admin);
    const figures1 = await smartRouteFigures(peer, nodes);
    for (const client of clients) client.close();

    const done = outcomes.filter((r) => 'bytes' in r);
    const failures = new Map<string, number>();
    for (const r of outcomes) if ('failure' in r) failures.set(r.failure, (failures.get(r.failure) ?? 0) + 1);
    const first = done[0]?.update;
    const check = new Y.Doc();
    if (first) Y.applyUpdate(check, first);
    const times = done.map((r) => r.at).sort((a, b) => a - b);
    const busiest = after.reduce((most, s, i) => (s.peakRss > after[most]!.peakRss ? i : most), 0);
    return {
      synced: done.length,
      failures,
      ringChanges: figures1 && figures0 && figures1.epoch - figures0.epoch,
      repointed: figures1 && figures0 && figures1.repointed - figures0.repointed,
      maxLoopDelayMs: Math.max(...after.map((s) => s.maxLoopDelayMs)),
      allSyncedSeconds: done.length === STORM_CLIENTS ? times.at(-1)! / 1000 : NaN,
      p50Seconds: percentile(times, 0.5) / 1000,
      busiestPeakMb: after[busiest]!.peakRss / MB,
      busiestGrowthMb: (after[busiest]!.peakRss - before[busiest]!.rss) / MB,
      cpuSeconds: sum(after.map((s, i) => s.cpu - before[i]!.cpu)) / 1e6,
      redisCommands: redis1.commands - redis0.commands - 2,
      documents: sum(after.map((s) => s.documents)),
      // Every client received the whole document: the first one decoded, the others the same size.
      verified: check.getText('content').length === expected && done.every((r) => r.bytes === done[0]!.bytes),
    };
  } finally {
    admin.disconnect();
    await balancer.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/** BENCH_ONLY=clients|idle|storm runs one part. */
const ONLY = process.env.BENCH_ONLY;
const runs = (part: string) => !ONLY || ONLY === part;

async function main(): Promise<void> {
  if (runs('idle')) requireFileLimit(IDLE_CONNECTIONS + 1000);
  const redis = new SpawnedRedis(await freePort());
  await redis.start();
  const dir = await mkdtemp(join(tmpdir(), 'ringroute-scale-'));
  const started = Date.now();
  const figures: Target[] = [];
  try {
    if (runs('clients')) {
      const nodes = await startCluster('smartroute', redis);
      const costs = await clientCosts(nodes[0]!.url);
      await Promise.all(nodes.map((node) => node.stop()));
      printClientCosts(costs);
    }
    if (runs('idle')) {
      const results = new Map<Peer, IdleResult>();
      for (const [peer] of PEERS) results.set(peer, await idle(peer, redis));
      printIdle(results);
      figures.push(...idleFigures(results));
    }
    if (runs('storm')) {
      const seed = seedDocument(STORM_MB);
      const file = join(dir, 'seed.bin');
      await writeFile(file, seed.update);
      const results = new Map<Peer, StormResult>();
      for (const [peer] of PEERS) results.set(peer, await storm(peer, redis, { prefix: 'seeded-', file }, seed.length));
      printStorm(results, seed.update.byteLength);
      figures.push(stormFigures(results));
    }
  } finally {
    await redis.kill();
    await rm(dir, { recursive: true, force: true });
  }
  if (figures.length > 0) targets(figures);
  console.log(`(${((Date.now() - started) / 60_000).toFixed(1)} min)`);
}

/** Issue 20's scale figures, SmartRoute then extension-redis: reported side by side, without a target. */
function idleFigures(results: Map<Peer, IdleResult>): Target[] {
  const [ours, peer] = [results.get('smartroute')!, results.get('extension-redis')!];
  const perNode = (r: IdleResult) => sum(r.cpuPercent) / r.cpuPercent.length;
  return [
    [
      `${IDLE_CONNECTIONS.toLocaleString('en-US')} idle connections: memory per connection, heap (RSS), SmartRoute / extension-redis (no target)`,
      `${fixed(perConnection(ours.heap), 4)} (${fixed(perConnection(ours.rss), 4)}) / ${fixed(perConnection(peer.heap), 4)} (${fixed(perConnection(peer.rss), 4)}) MB, heap ${ratio(perConnection(ours.heap), perConnection(peer.heap))}`,
    ],
    [
      `${IDLE_CONNECTIONS.toLocaleString('en-US')} idle connections: CPU per node, SmartRoute / extension-redis (no target)`,
      `${fixed(perNode(ours), 1)} / ${fixed(perNode(peer), 1)} % of a core (${ratio(perNode(ours), perNode(peer))})`,
    ],
  ];
}

function stormFigures(results: Map<Peer, StormResult>): Target {
  const [ours, peer] = [results.get('smartroute')!, results.get('extension-redis')!];
  const synced = (r: StormResult) =>
    r.synced === STORM_CLIENTS ? `${fixed(r.allSyncedSeconds, 1)} s` : `${r.synced} of ${STORM_CLIENTS} synced`;
  return [
    `join storm, ${STORM_CLIENTS} clients: all synced, busiest node's peak RSS, Redis commands; SmartRoute / extension-redis (no target)`,
    `${synced(ours)} / ${synced(peer)}; ${fixed(ours.busiestPeakMb, 0)} / ${fixed(peer.busiestPeakMb, 0)} MB; ${ours.redisCommands} / ${peer.redisCommands}`,
  ];
}

function printClientCosts(costs: ClientCost[]): void {
  console.log('');
  table(
    `Client cost: ${CLIENT_SAMPLE} connections from this process (Node ${process.versions.node})`,
    ['client', 'CPU ms / connection (connect + synced)', 'heap KB / connection', 'RSS KB / connection'],
    costs.map((c) => [c.name, fixed(c.cpuMs, 2), fixed(c.heapKb, 1), fixed(c.rssKb, 1)]),
  );
}

function printIdle(idleResults: Map<Peer, IdleResult>): void {
  const peerIdle = idleResults.get('extension-redis')!;
  table(
    `${IDLE_CONNECTIONS.toLocaleString('en-US')} idle connections round robin over 3 nodes, ${IDLE_DOCUMENTS.toLocaleString('en-US')} documents, ${IDLE_SECONDS} s idle`,
    [
      'peer',
      'connect all (s)',
      'RSS MB / connection',
      'vs extension-redis',
      'vs y/hub 0.0024',
      'heap MB / connection',
      'RSS delta per node MB',
      'Hocuspocus connections per node',
      'Y.Docs',
      'idle CPU per node (% of a core)',
      'total idle CPU vs extension-redis',
      'Redis commands / s',
      'client heap KB / connection',
    ],
    PEERS.map(([peer, name]) => {
      const r = idleResults.get(peer)!;
      return [
        name,
        fixed(r.connectSeconds, 1),
        fixed(perConnection(r.rss), 4),
        ratio(perConnection(r.rss), perConnection(peerIdle.rss)),
        ratio(perConnection(r.rss), Y_HUB_MB_PER_CONNECTION),
        fixed(perConnection(r.heap), 4),
        r.rss.map((x) => fixed(x / MB, 0)).join(' / '),
        r.connections.join(' / '),
        r.documents,
        r.cpuPercent.map((x) => fixed(x, 1)).join(' / '),
        ratio(sum(r.cpuPercent), sum(peerIdle.cpuPercent)),
        fixed(r.redisPerSecond, 1),
        fixed(r.clientHeapKb, 1),
      ];
    }),
  );
}

function printStorm(stormResults: Map<Peer, StormResult>, seedBytes: number): void {
  const peerStorm = stormResults.get('extension-redis')!;
  table(
    `Join storm: ${STORM_CLIENTS} clients open one ${fixed(seedBytes / MB, 2)} MB document at once through HAProxy round robin`,
    [
      'peer',
      'synced',
      'all synced (s)',
      'vs extension-redis',
      'p50 (s)',
      'busiest node peak RSS MB',
      'its growth MB',
      'vs extension-redis',
      'server CPU s',
      'Redis commands',
      'Y.Docs loaded',
      'longest event-loop stall (s)',
      'ring changes',
      'relay re-points',
      'every client got the whole document',
    ],
    PEERS.map(([peer, name]) => {
      const r = stormResults.get(peer)!;
      return [
        name,
        `${r.synced} / ${STORM_CLIENTS}`,
        fixed(r.allSyncedSeconds, 2),
        ratio(r.allSyncedSeconds, peerStorm.allSyncedSeconds),
        fixed(r.p50Seconds, 2),
        fixed(r.busiestPeakMb, 0),
        fixed(r.busiestGrowthMb, 0),
        ratio(r.busiestGrowthMb, peerStorm.busiestGrowthMb),
        fixed(r.cpuSeconds, 1),
        r.redisCommands,
        r.documents,
        fixed(r.maxLoopDelayMs / 1000, 1),
        r.ringChanges ?? 'n/a',
        r.repointed ?? 'n/a',
        r.verified ? 'yes' : '**no**',
      ];
    }),
  );
  for (const [peer, name] of PEERS)
    for (const [reason, count] of stormResults.get(peer)!.failures) console.log(`${name}: ${count} client(s) not synced: ${reason}`);
}

await main();
