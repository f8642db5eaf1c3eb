import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { createSmartClient, type SmartClient, type SmartProvider } from '../src/client/index.js';
import { spawnNode, type NodeProcess } from './support/cluster.js';
import { plainProvider, socketTo, startNode, type TestNode } from './support/node.js';
import { freePort, until } from './support/ports.js';
import { createTable } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';

let table: Awaited<ReturnType<typeof createTable>>;
let redis: Awaited<ReturnType<typeof redisCluster>>;
const processes: NodeProcess[] = [];
const nodes: TestNode[] = [];
const clients: SmartClient[] = [];
const sockets: ReturnType<typeof socketTo>[] = [];

beforeAll(async () => {
  table = await createTable();
  redis = await redisCluster();
});

afterAll(async () => {
  clients.forEach((client) => client.destroy());
  sockets.forEach((socket) => socket.destroy());
  processes.forEach((node) => node.resume());
  await Promise.all(processes.map((node) => node.kill()));
  await Promise.all(nodes.map((node) => node.stop()));
  await redis.cleanup();
  await table.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;
const members = async (node: NodeProcess | TestNode) =>
  (await json<{ nodes: { id: string }[] }>(`${node.http}/api/routes/ring`)).nodes.map((n) => n.id);

/** A client's edits to one document, and how many of them the server acknowledged. */
interface Writer {
  handle: SmartProvider;
  written: string[];
  acknowledged: number;
}

async function writer(client: SmartClient, documentName: string): Promise<Writer> {
  const handle = await client.open(documentName);
  const w: Writer = { handle, written: [], acknowledged: 0 };
  // unsyncedChanges reaches 0 when the server has applied every update this provider sent.
  handle.provider.on('unsyncedChanges', ({ number }: { number: number }) => {
    if (number === 0) w.acknowledged = w.written.length;
  });
  await handle.whenSynced();
  return w;
}

function write(w: Writer, key: string): void {
  w.written.push(key);
  w.handle.document.getMap('items').set(key, true);
}

async function storedItems(documentName: string): Promise<Y.Map<unknown>> {
  const stored = new Y.Doc();
  const state = await table.load(documentName);
  if (state) Y.applyUpdate(stored, state);
  return stored.getMap('items');
}

/** Reads each document from its owner with a fresh plain provider, and from PostgreSQL; returns the acknowledged keys missing. */
async function missing(writers: Writer[], anyNode: { http: string }): Promise<string[]> {
  const expected = new Map<string, Set<string>>();
  for (const w of writers) {
    const keys = expected.get(w.handle.documentName) ?? new Set<string>();
    for (const key of w.written.slice(0, w.acknowledged)) keys.add(key);
    expected.set(w.handle.documentName, keys);
  }
  const lost: string[] = [];
  for (const [documentName, keys] of expected) {
    const { url } = await json<{ url: string }>(`${anyNode.http}/api/routes/document/${documentName}`);
    const socket = socketTo(url);
    const { provider, refusals } = plainProvider(socket, documentName);
    await until(() => provider.isSynced || refusals.length > 0, `${documentName} to load on its owner`);
    lost.push(...[...keys].filter((key) => !provider.document.getMap('items').has(key)).map((key) => `${documentName}/${key} (owner)`));
    socket.destroy();
    // The owner stores after Hocuspocus's debounce (at most maxDebounce, 10 s): give storage that long to catch up.
    const deadline = Date.now() + 15_000;
    let stored = await storedItems(documentName);
    while ([...keys].some((key) => !stored.has(key)) && Date.now() < deadline) {
      await sleep(200);
      stored = await storedItems(documentName);
    }
    lost.push(...[...keys].filter((key) => !stored.has(key)).map((key) => `${documentName}/${key} (storage)`));
  }
  return lost;
}

describe('fast failover and merge-safe ownership', () => {
  it("serves a kill -9ed node's documents on a survivor within 10 s, with default options; SIGTERM leaves gracefully", async () => {
    const config = { table: table.table, redis: REDIS_URL, cluster: `${redis.cluster}-kill` };
    const started = await Promise.all(['d1', 'd2', 'd3'].map((id) => spawnNode(id, config)));
    processes.push(...started);
    const [d1, , d3] = started as [NodeProcess, NodeProcess, NodeProcess];
    await until(async () => (await members(d1)).length === 3, 'three members');
    const client = createSmartClient({
      nodes: [d1.http],
      WebSocketPolyfill: WebSocket,
      socket: { delay: 100, minDelay: 100, maxDelay: 500 },
    });
    clients.push(client);
    await client.refreshRing();
    const names = Array.from({ length: 60 }, (_, i) => `killed-${i}`)
      .filter((name) => client.ring!.owner(name)!.id === 'd3')
      .slice(0, 4);
    const writers = await Promise.all(names.map((name) => writer(client, name)));
    writers.forEach((w) => write(w, 'before'));
    await until(() => writers.every((w) => w.acknowledged === 1), 'd3 to acknowledge');

    const killedAt = Date.now();
    await d3.kill();
    await until(() => writers.every((w) => w.handle.isSynced && w.handle.nodeId !== 'd3'), 'the documents on survivors', 20_000, 20);
    writers.forEach((w) => write(w, 'after'));
    await until(() => writers.every((w) => w.acknowledged === 2), 'a survivor to acknowledge', 10_000, 20);
    const served = Date.now() - killedAt;
    console.log(`kill -9 -> documents served and writable on a survivor after ${served} ms (failureTimeout 2500 ms by default)`);
    // The target: removal after 2 x failureTimeout (2 x 2500 ms) plus a heartbeat, then the helper moves; 10 s leaves
    // the rest for that move on a busy machine (5.6-8.6 s measured beside other suites, see BENCHMARKS.md).
    expect(served).toBeLessThan(10_000);
    expect(await missing(writers, d1)).toEqual([]);

    // SIGTERM (the default leaveOnSignals): the node hands its documents over, leaves, and the process ends.
    const d2 = started[1]!;
    await client.refreshRing();
    const leaving = Array.from({ length: 60 }, (_, i) => `terminated-${i}`)
      .filter((name) => client.ring!.owner(name)?.id === 'd2')
      .slice(0, 3);
    const onD2 = await Promise.all(leaving.map((name) => writer(client, name)));
    onD2.forEach((w) => write(w, 'before-sigterm'));
    await until(() => onD2.every((w) => w.acknowledged === 1), 'd2 to acknowledge');
    await d2.terminate();
    expect(d2.child.signalCode).toBe('SIGTERM'); // left gracefully, then the signal ended the process as usual
    await until(() => onD2.every((w) => w.handle.isSynced && w.handle.nodeId === 'd1'), 'the documents on d1', 20_000, 20);
    const { routing } = await json<{ routing: { waitedForHandover: number; handoverTimeouts: number } }>(`${d1.http}/api/routes/stats`);
    expect(routing.handoverTimeouts).toBe(0);
    expect(await missing(onD2, d1)).toEqual([]);
  }, 90_000);

  it('an owner paused past 2 x failureTimeout never stores its stale copies, and ships what it holds: 0 acknowledged updates lost', async () => {
    const failureTimeout = 1000;
    const config = { table: table.table, redis: REDIS_URL, cluster: `${redis.cluster}-stop`, failureTimeout, migrationTimeout: 5000 };
    const started = await Promise.all(['s1', 's2', 's3'].map((id) => spawnNode(id, config)));
    processes.push(...started);
    const [s1, s2, s3] = started as [NodeProcess, NodeProcess, NodeProcess];
    await until(async () => (await members(s1)).length === 3, 'three members');
    const smart = (urls: string[]) => {
      const client = createSmartClient({ nodes: urls, WebSocketPolyfill: WebSocket, socket: { delay: 100, minDelay: 100, maxDelay: 500 } });
      clients.push(client);
      return client;
    };
    const first = smart([s1.http]);
    await first.refreshRing();
    const names = Array.from({ length: 80 }, (_, i) => `paused-${i}`)
      .filter((name) => first.ring!.owner(name)!.id === 's3')
      .slice(0, 5);
    const writers = await Promise.all(names.map((name) => writer(first, name)));
    let round = 0;
    let editing = true;
    const edits = (async () => {
      while (editing) {
        round++;
        for (const [i, w] of writers.entries()) write(w, `w${i}-${round}`);
        await sleep(50);
      }
    })();
    await until(() => writers.every((w) => w.acknowledged >= 3), 's3 to acknowledge a few rounds of edits');

    s3.pause();
    // Removal takes 2 x failureTimeout of silence: s3 stays paused past it.
    await until(async () => !(await members(s1)).includes('s3'), 's3 to be declared dead', 10_000, 50);
    // New clients reach the new owners meanwhile, and their acknowledged updates are stored there.
    const late = smart([s1.http, s2.http]);
    const lateWriters = await Promise.all(names.map((name) => writer(late, name)));
    lateWriters.forEach((w) => write(w, `late-${w.handle.documentName}`));
    await until(() => lateWriters.every((w) => w.acknowledged === 1), 'the new owners to acknowledge');
    await until(
      async () =>
        (await Promise.all(lateWriters.map(async (w) => (await storedItems(w.handle.documentName)).has(w.written[0]!)))).every(Boolean),
      'the new owners to store the late writes',
    );
    const acknowledgedAtResume = writers.map((w) => w.acknowledged);
    s3.resume();
    // s3 finds out it was declared dead while the first clients keep editing, now on the new owners.
    await until(
      async () => (await json<{ routing: { staleDocuments: number } }>(`${s3.http}/api/routes/stats`)).routing.staleDocuments > 0,
      's3 to find its copies stale',
    );
    await until(() => writers.every((w, i) => w.acknowledged > acknowledgedAtResume[i]!), 'edits acknowledged after the resume', 20_000);
    editing = false;
    await edits;
    const all = [...writers, ...lateWriters];
    await until(
      () => all.every((w) => w.handle.isSynced && w.handle.provider.unsyncedChanges === 0),
      'every client to be synced',
      20_000,
      50,
    );
    expect(all.reduce((sum, w) => sum + w.acknowledged, 0)).toBeGreaterThan(50);

    const stats = await json<{ routing: { staleDocuments: number; fencedStores: number; shipped: number } }>(`${s3.http}/api/routes/stats`);
    console.log(`paused owner after SIGCONT: ${JSON.stringify(stats.routing)}`);
    expect(stats.routing.staleDocuments).toBeGreaterThan(0); // it found out it had been declared dead
    // Everyone leaves: the owners store and unload every document, then storage and owners must hold every acknowledged key.
    clients.forEach((client) => client.destroy());
    clients.length = 0;
    await until(
      async () => {
        const loaded = await Promise.all(started.map((n) => json<{ documents: { loaded: number } }>(`${n.http}/api/routes/stats`)));
        return loaded.every((s) => s.documents.loaded === 0);
      },
      'every document to be stored and unloaded',
      15_000,
      100,
    );
    expect(await missing(all, s1)).toEqual([]);
  }, 90_000);

  it('relay mode: a plain provider relayed to an owner that is killed waits out failure detection (longer than migrationTimeout) and goes on', async () => {
    const config = {
      table: table.table,
      redis: REDIS_URL,
      cluster: `${redis.cluster}-relay`,
      secret: 'failover-relay-secret',
      misroute: 'relay' as const,
      migrationTimeout: 1000,
    };
    const started = await Promise.all(['r1', 'r2', 'r3'].map((id) => spawnNode(id, config)));
    processes.push(...started);
    const [r1, , r3] = started as [NodeProcess, NodeProcess, NodeProcess];
    await until(async () => (await members(r1)).length === 3, 'three members');
    let name = '';
    for (let i = 0; !name; i++) {
      const route = await json<{ owner: { id: string } }>(`${r1.http}/api/routes/document/relay-killed-${i}`);
      if (route.owner.id === 'r3') name = `relay-killed-${i}`;
    }
    const socket = socketTo(r1.url); // relayed by r1 to r3
    sockets.push(socket);
    const { provider, refusals } = plainProvider(socket, name);
    const items = provider.document.getMap('items');
    await until(() => provider.isSynced, 'the relayed provider synced');
    items.set('before', true);
    await until(() => provider.unsyncedChanges === 0, 'r3 to acknowledge');

    await r3.kill(); // declared dead only after 2 x failureTimeout (5 s), far beyond migrationTimeout (1 s)
    items.set('after', true);
    await until(() => provider.unsyncedChanges === 0, 'a survivor to acknowledge', 20_000);
    expect(refusals).toEqual([]); // the relay did not give the document up while the ring still named the dead owner
    const fresh = socketTo(r1.url);
    sockets.push(fresh);
    const reader = plainProvider(fresh, name);
    await until(() => reader.provider.isSynced, 'a fresh reader');
    expect([...reader.provider.document.getMap('items').keys()].sort()).toEqual(['after', 'before']);
  }, 60_000);

  it('maxConcurrentHandovers bounds the documents moving at once (observed through /api/routes/stats)', async () => {
    const cluster = `${redis.cluster}-gradual`;
    const a = await startNode(
      'ga',
      await freePort(),
      table.table,
      { redis: REDIS_URL, cluster, maxConcurrentHandovers: 2 },
      { storeDelay: 100 },
    );
    nodes.push(a);
    const socket = socketTo(a.url);
    sockets.push(socket);
    const providers = Array.from({ length: 16 }, (_, i) => plainProvider(socket, `gradual-${i}`));
    await until(() => providers.every(({ provider }) => provider.isSynced), 'the documents to load on ga');
    providers.forEach(({ provider }, i) => provider.document.getMap('items').set(`k${i}`, true));
    await until(() => providers.every(({ provider }) => provider.unsyncedChanges === 0), 'ga to acknowledge');

    const b = await startNode('gb', await freePort(), table.table, { redis: REDIS_URL, cluster });
    nodes.push(b);
    const moving = providers.filter(({ provider }) => b.smartRoute.ring?.owner(provider.configuration.name)?.id === 'gb').length;
    expect(moving).toBeGreaterThan(2);
    const seen = { maxMoving: 0, maxPending: 0 };
    await until(
      async () => {
        const { handovers } = await json<{ handovers: { pending: number; moving: number; done: number; failed: number } }>(
          `${a.http}/api/routes/stats`,
        );
        seen.maxMoving = Math.max(seen.maxMoving, handovers.moving);
        seen.maxPending = Math.max(seen.maxPending, handovers.pending);
        return handovers.done === moving && handovers.pending === 0 && handovers.moving === 0;
      },
      'every moved document to be handed over',
      20_000,
      10,
    );
    expect(seen.maxMoving).toBeLessThanOrEqual(2);
    expect(seen.maxPending).toBeGreaterThan(0);
    expect(a.smartRoute.handovers.failed).toBe(0);
  }, 60_000);
});
