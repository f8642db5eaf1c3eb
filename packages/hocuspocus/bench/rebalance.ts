/**
 * Gradual rebalancing: a node joins a 2-node cluster while BENCH_REBALANCE_DOCUMENTS (default 1000) documents are
 * open through the client helper (one socket per node). Reports the time until every moved document is synced on
 * its new owner (handovers done), and the longest interruption a client saw (from its document's move to synced
 * again), with maxConcurrentHandovers 16 (the default) beside 1000 (everything at once) in the same run.
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/rebalance.ts
 */
import { WebSocket } from 'ws';
import { table, targets } from '../../ring-core/bench/support/measure.js';
import { createSmartClient, type SmartProvider } from '../src/client/index.js';
import { freePort, until } from '../test/support/ports.js';
import { startNode, type TestNode } from '../test/support/node.js';
import { createTable } from '../test/support/postgres.js';
import { REDIS_URL, redisCluster } from '../test/support/redis.js';

const DOCUMENTS = Number(process.env.BENCH_REBALANCE_DOCUMENTS ?? 1000);

async function run(maxConcurrentHandovers: number, tableName: string) {
  const redis = await redisCluster();
  const options = { redis: REDIS_URL, cluster: redis.cluster, maxConcurrentHandovers, migrationTimeout: 60_000 };
  const nodes: TestNode[] = [];
  for (const id of ['r1', 'r2']) nodes.push(await startNode(id, await freePort(), tableName, options));
  await until(() => nodes.every((n) => n.smartRoute.ring?.nodes.length === 2), 'two members');
  const client = createSmartClient({ nodes: nodes.map((n) => n.http), WebSocketPolyfill: WebSocket });
  await client.refreshRing();
  const handles: SmartProvider[] = [];
  for (let i = 0; i < DOCUMENTS; i++) handles.push(await client.open(`rebalance-${maxConcurrentHandovers}-${i}`));
  await until(() => handles.every((h) => h.isSynced), 'every document to sync', 120_000, 100);

  const movedAt = new Map<string, number>();
  const interruptions: number[] = [];
  for (const handle of handles) {
    handle.on('move', ({ documentName }) => movedAt.set(documentName, performance.now()));
    handle.on('synced', ({ documentName }) => {
      const at = movedAt.get(documentName);
      if (at !== undefined) interruptions.push(performance.now() - at);
      movedAt.delete(documentName);
    });
  }
  const joined = performance.now();
  nodes.push(await startNode('r3', await freePort(), tableName, options));
  const moving = () => handles.filter((h) => nodes[2]!.smartRoute.ring?.owner(h.documentName)?.id === 'r3').length;
  await until(
    () => handles.every((h) => h.isSynced && (h.nodeId === 'r3') === (nodes[2]!.smartRoute.ring?.owner(h.documentName)?.id === 'r3')),
    'every moved document to sync on r3',
    300_000,
    50,
  );
  const finished = performance.now() - joined;
  const moved = moving();
  client.destroy();
  for (const node of nodes) await node.stop();
  await redis.cleanup();
  interruptions.sort((a, b) => a - b);
  return { moved, finished, longest: interruptions.at(-1) ?? 0, p50: interruptions[Math.floor(interruptions.length / 2)] ?? 0 };
}

const store = await createTable();
const runs = [];
for (const limit of [16, DOCUMENTS]) runs.push({ limit, ...(await run(limit, store.table)) });
await store.drop();
table(
  `Rebalancing: a third node joins while ${DOCUMENTS} documents are open (client helper, PostgreSQL store)`,
  ['maxConcurrentHandovers', 'documents moved', 'time to finish (s)', 'longest interruption (ms)', 'p50 interruption (ms)'],
  runs.map((r) => [r.limit, r.moved, (r.finished / 1000).toFixed(2), r.longest.toFixed(0), r.p50.toFixed(0)]),
);
const [limited] = runs;
targets([
  [
    `a join with ${DOCUMENTS} documents open, maxConcurrentHandovers 16: time to finish, longest interruption (no target)`,
    `${(limited!.finished / 1000).toFixed(2)} s, ${(limited!.longest / 1000).toFixed(2)} s`,
  ],
]);
process.exit(0);
