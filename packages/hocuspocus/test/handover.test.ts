import { createRing, type Ring } from '@ringroute/ring-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandoverLedger } from '../src/handover/ledger.js';
import { spawnNode, type NodeProcess } from './support/cluster.js';
import { freePort, until } from './support/ports.js';
import { createTable } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';
import { documentOwnedBy, plainProvider, socketTo, startNode, type TestNode } from './support/node.js';

const ring = (ids: string[], pins: Record<string, string> = {}): Promise<Ring> =>
  createRing({ nodes: ids.map((id) => ({ id, url: `ws://${id}:1` })), pins });

describe('HandoverLedger', () => {
  it('asks for the previous owner until it hands over, and only a handover heard after its ownership began counts', async () => {
    const ledger = new HandoverLedger('b', 1000);
    ledger.handedOver('doc', 'a', 50); // an old handover, before a's ownership below began
    ledger.observe(await ring(['a', 'b'], { doc: 'b' }), 0);
    ledger.observe(await ring(['a', 'b'], { doc: 'a' }), 100); // a owns it from t=100
    ledger.observe(await ring(['a', 'b'], { doc: 'b' }), 200); // and hands it to b at t=200
    expect(ledger.pending('doc', 300)).toEqual([{ nodeId: 'a', deadline: 1200 }]);
    ledger.handedOver('doc', 'a', 350);
    expect(ledger.pending('doc', 400)).toEqual([]);
  });

  it('gives up waiting at the deadline (the old owner may have crashed)', async () => {
    const ledger = new HandoverLedger('b', 1000);
    ledger.observe(await ring(['a', 'b'], { doc: 'a' }), 0);
    ledger.observe(await ring(['a', 'b'], { doc: 'b' }), 100);
    expect(ledger.pending('doc', 1099)).toHaveLength(1);
    expect(ledger.pending('doc', 1100)).toEqual([]);
  });

  it('takes a graceful leave announcement as a handover of everything', async () => {
    const ledger = new HandoverLedger('b', 1000);
    ledger.observe(await ring(['a', 'b'], { doc: 'a' }), 0);
    ledger.observe(await ring(['b']), 100);
    expect(ledger.pending('doc', 150).map((p) => p.nodeId)).toEqual(['a']);
    ledger.handedOverEverything('a', 160);
    expect(ledger.pending('doc', 170)).toEqual([]);
  });

  it("takes a node's announcement of a later ring that gives the document away as its handover, and nothing older", async () => {
    const ledger = new HandoverLedger('b', 1000);
    const r1 = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }], pins: { doc: 'b' }, epoch: 1 });
    const r2 = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }], pins: { doc: 'a' }, epoch: 2 });
    const r3 = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }], pins: { doc: 'b' }, epoch: 3 }); // r1's members again
    ledger.observe(r1, 0);
    ledger.observe(r2, 100);
    ledger.observe(r3, 200);
    expect(r3.checksum).toBe(r1.checksum);
    ledger.handedOverRing('a', r1, 150); // a lagging: r1 said nothing about its ownership in r2
    ledger.handedOverRing('a', r2, 160); // r2 gives the document to a itself
    ledger.handedOverRing('a', { epoch: 3, checksum: r2.checksum }, 170); // no ring of ours
    expect(ledger.pending('doc', 300).map((p) => p.nodeId)).toEqual(['a']);
    ledger.handedOverRing('a', r3, 180);
    expect(ledger.pending('doc', 300)).toEqual([]);
  });

  it('needs nothing for documents it owned all along', async () => {
    const ledger = new HandoverLedger('b', 1000);
    ledger.observe(await ring(['a', 'b'], { doc: 'b' }), 0);
    ledger.observe(await ring(['a', 'b', 'c'], { doc: 'b' }), 100);
    expect(ledger.pending('doc', 150)).toEqual([]);
  });
});

describe('handover between live nodes', () => {
  let table: Awaited<ReturnType<typeof createTable>>;
  let redis: Awaited<ReturnType<typeof redisCluster>>;
  const nodes: TestNode[] = [];
  const processes: NodeProcess[] = [];
  const sockets: ReturnType<typeof socketTo>[] = [];

  beforeAll(async () => {
    table = await createTable();
    redis = await redisCluster();
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    await Promise.all(processes.map((p) => p.kill()));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.cleanup();
    await table.drop();
  });

  it('the new owner loads a document only after the old owner has stored and handed it over', async () => {
    const options = { redis: REDIS_URL, cluster: `${redis.cluster}-slow`, syncInterval: 200, migrationTimeout: 10_000 };
    // p's database is slow: its final store takes 800 ms, while q could load from storage at once.
    const p = await startNode('p', await freePort(), table.table, options, { storeDelay: 800 });
    const q = await startNode('q', await freePort(), table.table, options);
    nodes.push(p, q);
    await until(() => p.smartRoute.ring?.nodes.length === 2, 'p to see q');
    const name = documentOwnedBy(p.smartRoute, 'p', 'slow');

    const writerSocket = socketTo(p.url);
    sockets.push(writerSocket);
    const writer = plainProvider(writerSocket, name);
    await until(() => writer.provider.isSynced, 'the writer to sync on p');
    writer.provider.document.getMap('m').set('acknowledged', 'before the move');
    await until(() => writer.provider.unsyncedChanges === 0, 'p to acknowledge the edit');

    await p.smartRoute.pin(name, 'q'); // the handover starts now; p's store is in flight
    const readerSocket = socketTo(q.url);
    sockets.push(readerSocket);
    const reader = plainProvider(readerSocket, name); // has nothing of its own: all it sees comes from storage
    await until(() => reader.provider.isSynced, 'the reader to sync on q');
    expect(reader.provider.document.getMap('m').get('acknowledged')).toBe('before the move');
    expect(q.smartRoute.counters.waitedForHandover).toBe(1);
    expect(q.smartRoute.counters.handoverTimeouts).toBe(0);
    expect(p.smartRoute.handovers.done).toBe(1);
    // The writer was told where its document went.
    await until(() => writer.closes.length > 0, 'the writer to be closed with the hint');
    expect(writer.closes[0]).toContain('"ownerId":"q"');
  });

  it('retries a failing final store and hands over only once it succeeded', async () => {
    const options = { redis: REDIS_URL, cluster: `${redis.cluster}-flaky`, syncInterval: 200, migrationTimeout: 10_000 };
    const database = { failStores: 0 };
    const p = await startNode('flaky-p', await freePort(), table.table, options, database);
    const q = await startNode('flaky-q', await freePort(), table.table, options);
    nodes.push(p, q);
    await until(() => p.smartRoute.ring?.nodes.length === 2, 'p to see q');
    const name = documentOwnedBy(p.smartRoute, 'flaky-p', 'flaky');
    const socket = socketTo(p.url);
    sockets.push(socket);
    const writer = plainProvider(socket, name);
    await until(() => writer.provider.isSynced, 'the writer to sync');
    writer.provider.document.getMap('m').set('kept', true);
    await until(() => writer.provider.unsyncedChanges === 0, 'the edit to be acknowledged');

    database.failStores = 2;
    await p.smartRoute.pin(name, 'flaky-q');
    expect(await p.smartRoute.handedOver(name, 'flaky-p')).toBe(true);
    expect(p.smartRoute.counters.storeFailures).toBeGreaterThanOrEqual(1);
    expect(p.smartRoute.handovers.done).toBe(1);
    const readerSocket = socketTo(q.url);
    sockets.push(readerSocket);
    const reader = plainProvider(readerSocket, name);
    await until(() => reader.provider.isSynced, 'the reader to sync on q');
    expect(reader.provider.document.getMap('m').get('kept')).toBe(true);
  });

  it('never waits for a handover from an old owner the membership declared dead (kill -9)', async () => {
    const config = {
      table: table.table,
      redis: REDIS_URL,
      cluster: `${redis.cluster}-crash`,
      failureTimeout: 300,
      migrationTimeout: 60_000,
    };
    const victim = await spawnNode('victim', config);
    processes.push(victim);
    const heir = await startNode('heir', await freePort(), table.table, {
      redis: REDIS_URL,
      cluster: config.cluster,
      failureTimeout: 300,
      migrationTimeout: 60_000,
    });
    nodes.push(heir);
    await until(() => heir.smartRoute.ring?.nodes.length === 2, 'heir to see the victim');
    const name = documentOwnedBy(heir.smartRoute, 'victim', 'crash');
    const socket = socketTo(victim.url);
    sockets.push(socket);
    const holder = plainProvider(socket, name);
    await until(() => holder.provider.isSynced, 'the document to load on the victim');

    await victim.kill();
    await until(() => heir.smartRoute.ring?.node('victim') === undefined, 'failure detection to remove the victim');
    const readerSocket = socketTo(heir.url);
    sockets.push(readerSocket);
    const reader = plainProvider(readerSocket, name);
    await until(() => reader.provider.isSynced, 'the heir to load the document', 5000); // far below migrationTimeout
    expect(heir.smartRoute.counters.waitedForHandover).toBe(0);
    expect(heir.smartRoute.counters.handoverTimeouts).toBe(0);
    expect(reader.refusals).toEqual([]);
  });
});
