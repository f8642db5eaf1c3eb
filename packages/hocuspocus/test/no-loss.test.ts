import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { createSmartClient, type SmartClient, type SmartProvider } from '../src/client/index.js';
import { spawnNode, type NodeProcess } from './support/cluster.js';
import { until } from './support/ports.js';
import { createTable } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';
import { plainProvider, socketTo } from './support/node.js';

const DOCUMENTS = 20;
const CLIENTS = 30;
const DOCUMENTS_PER_CLIENT = 2;
const EDIT_EVERY_MS = 100;

/** One client's edits to one document, and how many of them the server has acknowledged. */
interface Writer {
  documentName: string;
  handle: SmartProvider;
  written: string[];
  acknowledged: number;
}

let table: Awaited<ReturnType<typeof createTable>>;
let redis: Awaited<ReturnType<typeof redisCluster>>;
const processes: NodeProcess[] = [];
const clients: SmartClient[] = [];

beforeAll(async () => {
  table = await createTable();
  redis = await redisCluster();
});

afterAll(async () => {
  clients.forEach((client) => client.destroy());
  await Promise.all(processes.map((node) => node.kill()));
  await redis.cleanup();
  await table.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadedDocuments(node: NodeProcess): Promise<number> {
  const stats = (await (await fetch(`${node.http}/api/routes/stats`)).json()) as { documents: { loaded: number } };
  return stats.documents.loaded;
}

describe('no acknowledged update is lost', () => {
  it('across a join, a graceful leave and a kill -9, with 30 clients editing 20 documents on 3-4 nodes', async () => {
    const config = {
      table: table.table,
      redis: REDIS_URL,
      cluster: redis.cluster,
      syncInterval: 200,
      migrationTimeout: 2000,
      secret: 'no-loss-test-secret',
    }; // signed membership and handover messages
    processes.push(...(await Promise.all(['n1', 'n2', 'n3'].map((id) => spawnNode(id, config)))));
    const [n1, n2, n3] = processes as [NodeProcess, NodeProcess, NodeProcess];
    await until(async () => (await (await fetch(`${n1.http}/api/routes/ring`)).json()).nodes.length === 3, 'three members');

    // Clients start from any node's ring (they know every initial node) and follow hints from then on.
    const writers: Writer[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      const client = createSmartClient({ nodes: processes.map((n) => n.http), WebSocketPolyfill: WebSocket });
      clients.push(client);
      for (let d = 0; d < DOCUMENTS_PER_CLIENT; d++) {
        const documentName = `nl-${(c * DOCUMENTS_PER_CLIENT + d) % DOCUMENTS}`;
        const handle = await client.open(documentName);
        const writer: Writer = { documentName, handle, written: [], acknowledged: 0 };
        // unsyncedChanges reaches 0 when the server has applied every update this provider sent: all writes so far.
        handle.provider.on('unsyncedChanges', ({ number }: { number: number }) => {
          if (number === 0) writer.acknowledged = writer.written.length;
        });
        writers.push(writer);
      }
    }
    await Promise.all(writers.map((w) => w.handle.whenSynced()));

    let editing = true;
    const edits = (async () => {
      let round = 0;
      while (editing) {
        round++;
        for (const [i, writer] of writers.entries()) {
          if ((i + round) % DOCUMENTS_PER_CLIENT !== 0) continue; // each client edits one of its documents per round
          const key = `w${i}-${round}`;
          writer.written.push(key);
          writer.handle.document.getMap('edits').set(key, round);
        }
        await sleep(EDIT_EVERY_MS);
      }
    })();

    await sleep(1500);
    processes.push(await spawnNode('n4', config)); // join
    await sleep(2000);
    await n2.leave(); // graceful leave
    await sleep(1500);
    await n3.kill(); // kill -9
    await sleep(2500);
    editing = false;
    await edits;

    // Settle: every client is synced (the killed node's documents wait out failure detection + migrationTimeout).
    await until(
      () => writers.every((w) => w.handle.isSynced && w.handle.provider.unsyncedChanges === 0),
      'every client to be synced',
      30_000,
      100,
    );
    const survivors = processes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
    expect(survivors.map((n) => n.id).sort()).toEqual(['n1', 'n4']);
    for (const writer of writers) expect(writer.handle.nodeId).toMatch(/^n[14]$/);
    const acknowledged = writers.reduce((sum, w) => sum + w.acknowledged, 0);
    expect(acknowledged).toBeGreaterThan(CLIENTS * 10);

    // Everyone leaves: the owners store and unload every document.
    clients.forEach((client) => client.destroy());
    clients.length = 0;
    await until(
      async () => (await Promise.all(survivors.map(loadedDocuments))).every((n) => n === 0),
      'every document to be stored and unloaded',
      15_000,
      100,
    );

    // Reload each document from storage on its owner with a fresh plain provider, and look for every acknowledged key.
    const expected = new Map<string, Set<string>>();
    for (const w of writers) {
      const keys = expected.get(w.documentName) ?? new Set<string>();
      for (const key of w.written.slice(0, w.acknowledged)) keys.add(key);
      expected.set(w.documentName, keys);
    }
    expect(expected.size).toBe(DOCUMENTS);
    for (const [documentName, keys] of expected) {
      const route = (await (await fetch(`${n1.http}/api/routes/document/${documentName}`)).json()) as { url: string };
      const socket = socketTo(route.url);
      const { provider, refusals } = plainProvider(socket, documentName);
      await until(() => provider.isSynced || refusals.length > 0, `${documentName} to load on its owner`);
      expect(refusals).toEqual([]);
      const stored = provider.document.getMap('edits');
      const missing = [...keys].filter((key) => !stored.has(key));
      expect(missing, `acknowledged updates missing from ${documentName}`).toEqual([]);
      socket.destroy();
      // The same state is in PostgreSQL.
      const state = await table.load(documentName);
      const fromStorage = new Y.Doc();
      Y.applyUpdate(fromStorage, state!);
      expect([...keys].filter((key) => !fromStorage.getMap('edits').has(key))).toEqual([]);
    }
  }, 110_000);
});
