/**
 * Relay mode beside its peers, same workload, one run: 3 Hocuspocus 3.4 servers (child processes, see
 * relay-node.ts) on a private redis-server, DOCUMENTS documents x 4 plain providers (one socket each), every
 * client writing once a second, and
 * - SmartRoute relay: clients spread over the 3 nodes round robin (as behind a load balancer);
 * - SmartRoute direct: every client connected to its document's owner (the client helper's case);
 * - @hocuspocus/extension-redis 3.4: clients spread round robin.
 * Measured over the window after a warm-up: server CPU per 1,000 updates (the 3 processes), Redis commands per
 * update (INFO commandstats delta), total server RSS, Y.Doc instances held, cross-client latency p50/p99.
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/relay.ts     (BENCH_DOCUMENTS=100, BENCH_SECONDS=10)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ringFromJSON, type Ring, type RingSnapshotJSON } from '@ringroute/ring-core';
import * as Y from 'yjs';
import { SpawnedRedis } from '../../ring-core/test/redis/harness.js';
import { RING_PATH } from '../src/index.js';
import { BrowserWebSocket, HocuspocusProvider, HocuspocusProviderWebsocket } from '../test/support/hocuspocus.js';
import { freePort, until } from '../test/support/ports.js';
import { redisCommands } from '../test/support/redis.js';
import type { BenchNodeConfig, BenchNodeStats } from './relay-node.js';

const DOCUMENTS = Number(process.env.BENCH_DOCUMENTS ?? 100);
const CLIENTS_PER_DOCUMENT = 4;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const entry = fileURLToPath(new URL('./relay-node.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

type Placement = 'round-robin' | 'owner';

interface Node {
  url: string;
  child: ChildProcess;
  stats(): Promise<BenchNodeStats>;
}

async function startNode(config: Omit<BenchNodeConfig, 'port'>): Promise<Node> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: packageDir,
    env: { ...process.env, RINGROUTE_BENCH_NODE: JSON.stringify({ ...config, port }) },
    // extension-redis logs every store it could not lock (each node stores every document it holds).
    stdio: ['ignore', 'inherit', config.peer === 'extension-redis' ? 'ignore' : 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench node ${config.id} exited (${code})`)));
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    child,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (stats) => resolve(stats as BenchNodeStats));
        child.send('stats');
      }),
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;

interface Result {
  name: string;
  updates: number;
  cpuPerThousand: number;
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
 * Latency without queueing: before the load, one writer and one reader of one document, one update in flight
 * at a time. Relay: both on nodes that do not own it (two link hops); direct: both on the owner; extension-redis:
 * on two different nodes.
 */
async function idleLatency(urls: [string, string], documentName: string): Promise<number> {
  const [writer, reader] = urls.map((url) => {
    const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket });
    const provider = new HocuspocusProvider({ websocketProvider: socket, name: documentName, document: new Y.Doc() });
    provider.attach();
    return { socket, provider };
  }) as [{ socket: InstanceType<typeof HocuspocusProviderWebsocket>; provider: InstanceType<typeof HocuspocusProvider> }, { socket: InstanceType<typeof HocuspocusProviderWebsocket>; provider: InstanceType<typeof HocuspocusProvider> }];
  await until(() => writer.provider.isSynced && reader.provider.isSynced, 'the probe clients synced');
  const seen = reader.provider.document.getArray<number>('probe');
  const samples: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const arrived = new Promise<void>((resolve) => seen.observe(function once() { seen.unobserve(once); resolve(); }));
    const start = performance.now();
    writer.provider.document.getArray<number>('probe').push([i]);
    // extension-redis can drop an update between two nodes (then it never arrives): counted, not waited for.
    const timedOut = await Promise.race([arrived.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 3000))]);
    if (timedOut) lostProbes++;
    else samples.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const { provider, socket } of [writer, reader]) {
    provider.destroy();
    socket.destroy();
  }
  return percentile(samples.sort((x, y) => x - y), 0.5);
}

async function run(name: string, peer: BenchNodeConfig['peer'], placement: Placement, redis: SpawnedRedis): Promise<Result> {
  const cluster = `bench-${peer}-${placement}-${Date.now().toString(36)}`;
  const nodes: Node[] = [];
  for (const id of ['node-a', 'node-b', 'node-c']) nodes.push(await startNode({ id, redisPort: redis.port, cluster, peer }));
  let ring: Ring | undefined;
  if (peer === 'smartroute') {
    await until(async () => ((await (await fetch(`${nodes[0]!.url.replace('ws', 'http')}${RING_PATH}`)).json()) as RingSnapshotJSON).nodes.length === 3, 'three members');
    ring = await ringFromJSON((await (await fetch(`${nodes[0]!.url.replace('ws', 'http')}${RING_PATH}`)).json()) as RingSnapshotJSON);
  }
  const urlOf = new Map(nodes.map((node, i) => [`node-${'abc'[i]}`, node.url]));
  const probeName = `${cluster}-probe`;
  const owner = ring ? urlOf.get(ring.owner(probeName)!.id)! : nodes[0]!.url;
  const others = nodes.map((node) => node.url).filter((url) => url !== owner) as [string, string];
  const idleP50 = await idleLatency(placement === 'owner' ? [owner, owner] : others, probeName);

  const latencies: number[] = [];
  let measuring = false;
  let updates = 0;
  const clients: { socket: InstanceType<typeof HocuspocusProviderWebsocket>; provider: InstanceType<typeof HocuspocusProvider>; log: Y.Array<number> }[] = [];
  for (let d = 0; d < DOCUMENTS; d++) {
    const documentName = `${cluster}-doc-${d}`;
    for (let c = 0; c < CLIENTS_PER_DOCUMENT; c++) {
      const url = placement === 'owner' ? urlOf.get(ring!.owner(documentName)!.id)! : nodes[(d * CLIENTS_PER_DOCUMENT + c) % nodes.length]!.url;
      const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket });
      const provider = new HocuspocusProvider({ websocketProvider: socket, name: documentName, document: new Y.Doc() });
      provider.attach();
      const log = provider.document.getArray<number>('log');
      log.observe((event, transaction) => {
        if (transaction.local || !measuring) return;
        const now = performance.now();
        for (const change of event.changes.delta) for (const sentAt of (change.insert as number[] | undefined) ?? []) latencies.push(now - sentAt);
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
  const before = { stats: await Promise.all(nodes.map((node) => node.stats())), commands: await redisCommands(admin) };
  measuring = true;
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  measuring = false;
  const after = { stats: await Promise.all(nodes.map((node) => node.stats())), commands: await redisCommands(admin) };
  for (const timer of timers) clearTimeout(timer);
  for (const { provider, socket } of clients) {
    provider.destroy();
    socket.destroy();
  }
  admin.disconnect();
  for (const node of nodes) node.child.kill('SIGKILL');

  const cpu = after.stats.reduce((sum, s, i) => sum + s.cpu - before.stats[i]!.cpu, 0) / 1000;
  const sorted = latencies.sort((x, y) => x - y);
  return {
    name,
    updates,
    cpuPerThousand: cpu / (updates / 1000),
    redisPerUpdate: (after.commands - before.commands - 1) / updates,
    rssMb: after.stats.reduce((sum, s) => sum + s.rss, 0) / 2 ** 20,
    documents: after.stats.reduce((sum, s) => sum + s.documents, 0),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    idleP50,
  };
}

async function main(): Promise<void> {
  const redis = new SpawnedRedis(await freePort());
  await redis.start();
  const results: Result[] = [];
  try {
    results.push(await run('SmartRoute relay, clients round robin', 'smartroute', 'round-robin', redis));
    results.push(await run('SmartRoute, clients direct to the owner', 'smartroute', 'owner', redis));
    results.push(await run('@hocuspocus/extension-redis 3.4, clients round robin', 'extension-redis', 'round-robin', redis));
  } finally {
    await redis.kill();
  }
  const peer = results[2]!;
  if (lostProbes > 0) console.log(`\n${lostProbes} idle-latency probe update(s) never reached their reader.`);
  console.log(`\n### ${DOCUMENTS} documents x ${CLIENTS_PER_DOCUMENT} clients, each writing once a second, ${SECONDS} s measured (Node ${process.versions.node})\n`);
  console.log('| case | updates | server CPU ms / 1,000 updates | vs extension-redis | Redis cmds / update | vs extension-redis | server RSS MB | Y.Docs | latency p50 ms | p99 ms | idle latency p50 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results)
    console.log(
      `| ${r.name} | ${r.updates} | ${r.cpuPerThousand.toFixed(1)} | ${(r.cpuPerThousand / peer.cpuPerThousand).toFixed(2)}x | ${r.redisPerUpdate.toFixed(4)} | ${(r.redisPerUpdate / peer.redisPerUpdate).toFixed(4)}x | ${r.rssMb.toFixed(0)} | ${r.documents} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.idleP50.toFixed(2)} |`,
    );
}

await main();
