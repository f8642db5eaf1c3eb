/**
 * Hocuspocus SmartRoute benchmarks, each beside its peer in the same run: real servers on 127.0.0.1 (the
 * tests' nodes: Redis membership, PostgreSQL persistence through extension-database), real providers over
 * `ws`, @hocuspocus/server 3.4 on Node 20. Needs Redis (REDIS_URL) and PostgreSQL (PGHOST...) like the tests.
 *
 * 1. Connection setup (connect + synced, a new socket and a new document each time) on a plain Hocuspocus
 *    server vs on a SmartRoute node that owns the document.
 * 2. A misrouted connect until synced on the owner through the client helper vs a direct connect to the
 *    owner (and the helper connecting owner-first from its ring).
 * 3. Migration time per document: POST /api/routes/migrate until the helper is synced on the new owner, and a
 *    node joining until every document it takes is synced there.
 *
 * The cases of a table take turns within each round, in rotated order (ABBA for two), after the same warm-up
 * (BENCH_WARMUP rounds, not counted): no case always runs first, or on a colder process than its peer.
 *
 *   pnpm --filter @ringroute/hocuspocus bench        (BENCH_ROUNDS=200, BENCH_WARMUP=20 by default)
 */
import { WebSocket } from 'ws';
import { table as markdownTable, targets } from '../../ring-core/bench/support/measure.js';
import { createSmartClient, type SmartProvider } from '../src/client/index.js';
import { HocuspocusProvider, HocuspocusProviderWebsocket, Server } from '../test/support/hocuspocus.js';
import { Cluster } from '../test/client/cluster.js';
import { freePort, until } from '../test/support/ports.js';
import { createTable, postgresPersistence } from '../test/support/postgres.js';
import { redisCluster } from '../test/support/redis.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const MIGRATIONS = Number(process.env.BENCH_MIGRATIONS ?? 30);
const JOIN_DOCUMENTS = Number(process.env.BENCH_JOIN_DOCUMENTS ?? 60);

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { n: sorted.length, mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p50: at(0.5), p95: at(0.95) };
}

const ms = (value: number) => value.toFixed(2);

/** Each case's p50 and its ratio to its table's baseline, for the summary. */
const p50s = new Map<string, { p50: number; ratio: number }>();

function table(title: string, rows: [string, number[]][], baseline: number[]): void {
  const base = stats(baseline);
  markdownTable(
    title,
    ['case', 'n', 'mean ms', 'p50 ms', 'p95 ms', 'p50 ratio'],
    rows.map(([name, samples]) => {
      const s = stats(samples);
      p50s.set(name, { p50: s.p50, ratio: s.p50 / base.p50 });
      return [name, s.n, ms(s.mean), ms(s.p50), ms(s.p95), `${(s.p50 / base.p50).toFixed(2)}x`];
    }),
  );
}

/** A plain provider with its own socket: connect until synced, then tear down. Returns ms. */
async function directConnect(url: string, name: string): Promise<number> {
  const start = performance.now();
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket });
  const provider = new HocuspocusProvider({ websocketProvider: socket, name });
  provider.attach();
  await new Promise<void>((resolve) => provider.on('synced', () => resolve()));
  const elapsed = performance.now() - start;
  provider.destroy();
  socket.destroy();
  return elapsed;
}

async function timeHelper(open: () => Promise<SmartProvider>): Promise<number> {
  const start = performance.now();
  const handle = await open();
  await handle.whenSynced();
  const elapsed = performance.now() - start;
  handle.close();
  return elapsed;
}

/** The peer: a plain Hocuspocus server with the same persistence and no SmartRoute. */
async function plainServer(table: string): Promise<{ url: string; close: () => Promise<unknown> }> {
  const port = await freePort();
  const persistence = postgresPersistence(table);
  const server = new Server({
    port,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: false,
    debounce: 100,
    maxDebounce: 500,
    extensions: [persistence.extension],
  });
  await server.listen();
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      await server.destroy();
      await persistence.close();
    },
  };
}

/**
 * Runs WARMUP + ROUNDS rounds of `cases`, each case once per round, in an order rotated every round (ABBA for two
 * cases); returns each case's samples, warm-up rounds left out.
 */
async function rounds(cases: ((round: number) => Promise<number>)[]): Promise<number[][]> {
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const shift = cases.length === 2 ? [0, 1, 1, 0][round % 4]! : round % cases.length;
    for (let i = 0; i < cases.length; i++) {
      const which = (i + shift) % cases.length;
      const sample = await cases[which]!(round);
      if (round >= WARMUP) samples[which]!.push(sample);
    }
  }
  return samples;
}

async function connectionSetup(cluster: Cluster): Promise<void> {
  const plain = await plainServer(cluster.table);
  const owner = cluster.node('node-a');
  const [plainSamples, smartSamples] = await rounds([
    (i) => directConnect(plain.url, `setup-plain-${i}`),
    (i) => directConnect(owner.url, cluster.documentOwnedBy('node-a', `setup-${i}`)),
  ]);
  await plain.close();
  table(
    'Connection setup: connect + synced, new socket and document each time',
    [
      ['plain Hocuspocus server', plainSamples!],
      ['SmartRoute node (owner), 3-node cluster', smartSamples!],
    ],
    plainSamples!,
  );
}

async function misroutedConnect(cluster: Cluster): Promise<void> {
  const wrong = cluster.node('node-a');
  const owner = cluster.node('node-b');
  const withRing = createSmartClient({ nodes: [wrong.http], WebSocketPolyfill: WebSocket });
  await withRing.refreshRing();
  // No ring (its endpoint unreachable from this client): every document starts at the seed and is redirected.
  const noRing = createSmartClient({ nodes: [wrong.url], WebSocketPolyfill: WebSocket, fetch: () => Promise.reject(new Error('no ring')) });
  const [direct, ownerFirst, misrouted] = await rounds([
    (i) => directConnect(owner.url, cluster.documentOwnedBy('node-b', `direct-${i}`)),
    (i) => timeHelper(() => withRing.open(cluster.documentOwnedBy('node-b', `ring-${i}`))),
    (i) => timeHelper(() => noRing.open(cluster.documentOwnedBy('node-b', `misrouted-${i}`))),
  ]);
  withRing.destroy();
  noRing.destroy();
  table(
    'Misrouted connect until synced on the owner',
    [
      ['direct connect to the owner (plain provider)', direct!],
      ['helper, owner computed from its ring', ownerFirst!],
      ['helper, connects to a wrong node first, follows the hint', misrouted!],
    ],
    direct!,
  );
}

async function migration(cluster: Cluster): Promise<void> {
  const client = createSmartClient({ nodes: [cluster.node('node-c').http], WebSocketPolyfill: WebSocket });
  const handles: SmartProvider[] = [];
  for (let i = 0; i < MIGRATIONS; i++) {
    const handle = await client.open(cluster.documentOwnedBy('node-a', `migrate-${i}`));
    await handle.whenSynced();
    handle.document.getText('body').insert(0, `document ${i}`);
    handles.push(handle);
  }
  const direct: number[] = [];
  const answered: number[] = [];
  const followed: number[] = [];
  for (const [i, handle] of handles.entries()) {
    const reference = () => directConnect(cluster.node('node-b').url, cluster.documentOwnedBy('node-b', `migrate-direct-${i}`));
    // The reference connect takes turns before and after the migration (ABBA).
    if ([0, 3].includes(i % 4)) direct.push(await reference());
    const moved = new Promise<void>((resolve) => handle.on('move', () => resolve()));
    const start = performance.now();
    const response = await cluster.migrate(cluster.node('node-c'), handle.documentName, 'node-b');
    if (response.status !== 200) throw new Error(`migrate answered ${response.status}: ${await response.text()}`);
    answered.push(performance.now() - start);
    await moved;
    await handle.whenSynced();
    followed.push(performance.now() - start);
    if ([1, 2].includes(i % 4)) direct.push(await reference());
  }
  for (const handle of handles) handle.close();
  client.destroy();
  table(
    `Migration per document (POST /api/routes/migrate, ${MIGRATIONS} documents one by one, a helper client on each)`,
    [
      ['direct connect to the new owner (reference)', direct],
      ['migrate endpoint answered (handover done)', answered],
      ['client synced on the new owner', followed],
    ],
    direct,
  );
}

/** Joins a node; the ms until every document it takes is synced on it. */
async function join(cluster: Cluster): Promise<number> {
  const client = createSmartClient({ nodes: [cluster.node('node-a').http], WebSocketPolyfill: WebSocket });
  const handles: SmartProvider[] = [];
  for (let i = 0; i < JOIN_DOCUMENTS; i++) {
    const handle = await client.open(`join-${i}`);
    await handle.whenSynced();
    handles.push(handle);
  }
  const start = performance.now();
  await cluster.add('node-d');
  const joined = performance.now() - start;
  const moving = handles.filter((handle) => cluster.owner(handle.documentName).id === 'node-d');
  await until(() => moving.every((handle) => handle.nodeId === 'node-d' && handle.isSynced), 'the documents to follow', 60_000);
  const total = performance.now() - start;
  for (const handle of handles) handle.close();
  client.destroy();
  markdownTable(
    `Node join: ${moving.length} of ${JOIN_DOCUMENTS} open documents (one helper client) move to the new node`,
    ['documents moved', 'new node listening and seen by all, ms', 'every moved document synced on it, ms'],
    [[moving.length, ms(joined), ms(total)]],
  );
  return total;
}

async function main(): Promise<void> {
  console.log(
    `## Hocuspocus SmartRoute (Node ${process.versions.node}, @hocuspocus/server 3.4, ${ROUNDS} rounds after ${WARMUP} of warm-up, cases in rotated order)`,
  );
  const table = await createTable();
  const redis = await redisCluster();
  const cluster = await Cluster.start(['node-a', 'node-b', 'node-c'], table.table, redis.cluster);
  try {
    await connectionSetup(cluster);
    await misroutedConnect(cluster);
    await migration(cluster);
    const joined = await join(cluster);
    const ratio = (name: string) => `${p50s.get(name)!.ratio.toFixed(2)}x`;
    targets([
      [
        'connect until synced, p50: on a SmartRoute owner / plain server; misrouted, following the hint / direct (no target)',
        `${ratio('SmartRoute node (owner), 3-node cluster')} / ${ratio('helper, connects to a wrong node first, follows the hint')}`,
      ],
      [
        'until synced on the new owner: a migrated document (p50); every document a joining node takes (no target)',
        `${ms(p50s.get('client synced on the new owner')!.p50)} ms; ${ms(joined)} ms`,
      ],
    ]);
  } finally {
    await cluster.close();
    await redis.cleanup();
    await table.drop();
  }
}

await main();
