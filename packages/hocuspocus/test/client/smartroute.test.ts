import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSmartClient, type MoveEvent, type SmartClient } from '@ringroute/hocuspocus/client';
import { plainProvider, socketTo, type TestNode } from '../support/node.js';
import { until } from '../support/ports.js';
import { createTable } from '../support/postgres.js';
import { redisCluster } from '../support/redis.js';
import { Cluster } from './cluster.js';

// The client helper against a real SmartRoute cluster: Hocuspocus servers with the extension, Redis
// membership, PostgreSQL persistence (extension-database), real providers over `ws`. No application code
// handles a refusal here: the helper does.
// Every test uses its own document names: the store (one table) outlives each test's cluster.
let table: Awaited<ReturnType<typeof createTable>>;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  table = await createTable();
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await table.drop();
});

/** A fresh cluster (its own Redis namespace) of nodes with the given ids, all seeing each other. */
async function cluster(ids: string[]): Promise<Cluster> {
  const redis = await redisCluster();
  cleanup.push(() => redis.cleanup());
  const started = await Cluster.start(ids, table.table, redis.cluster);
  cleanup.push(() => started.close());
  return started;
}

function client(nodes: string[]): SmartClient {
  const created = createSmartClient({ nodes, WebSocketPolyfill: WebSocket, backoff: { delay: 10 } });
  cleanup.push(() => created.destroy());
  return created;
}

/** A plain provider straight to `node`: what that node serves for the document. */
function observer(node: TestNode, name: string) {
  const socket = socketTo(node.url);
  const { provider, refusals } = plainProvider(socket, name);
  cleanup.push(() => {
    provider.destroy();
    socket.destroy();
  });
  return { text: () => (provider.isSynced ? provider.document.getText('body').toString() : undefined), refusals };
}

describe('client helper on a SmartRoute cluster', () => {
  it('connects a document straight to its owner, computed from the ring it fetched from another node', async () => {
    const nodes = await cluster(['node-a', 'node-b', 'node-c']);
    const name = nodes.documentOwnedBy('node-b', 'direct');
    const smart = client([nodes.node('node-a').http]);
    const handle = await smart.open(name);
    await handle.whenSynced();
    expect(handle.nodeId).toBe('node-b');
    expect(handle.hops).toBe(0);
    expect(nodes.node('node-a').smartRoute.counters.redirected).toBe(0);
    expect(smart.ring?.checksum).toBe(nodes.node('node-a').smartRoute.ring?.checksum);
    expect([...smart.sockets.keys()]).toEqual(['node-b']);
  });

  it('ends up synced on the owner after connecting to the wrong node, and an edit made before the move is there', async () => {
    const nodes = await cluster(['node-a', 'node-b', 'node-c']);
    const smart = client([nodes.node('node-a').http]);
    await smart.refreshRing(); // the client's ring, soon stale
    await nodes.add('node-d');
    const name = nodes.documentOwnedBy('node-d', 'misrouted');
    const stale = smart.ring!.owner(name)!.id;
    expect(stale).not.toBe('node-d');

    const moves: MoveEvent[] = [];
    const handle = await smart.open(name);
    handle.on('move', (move) => moves.push(move));
    expect(handle.nodeId).toBe(stale); // the wrong node, by the stale ring
    handle.document.getText('body').insert(0, 'typed on the wrong node');
    await handle.whenSynced();

    expect(handle.nodeId).toBe('node-d');
    expect(moves).toEqual([
      {
        documentName: name,
        from: { id: stale, url: nodes.node(stale).url },
        to: { id: 'node-d', url: nodes.node('node-d').url },
        reason: 'redirect',
        hops: 1,
      },
    ]);
    const onOwner = observer(nodes.node('node-d'), name);
    await until(() => onOwner.text() === 'typed on the wrong node', 'the edit on the owner');
    await until(() => smart.ring?.node('node-d') !== undefined, 'the client to refetch the newer ring');
    await until(() => !smart.sockets.has(stale), 'the socket to the wrong node to close');
  });

  it('follows a migration (POST /api/routes/migrate) keeping its edits, while another document on the same socket stays', async () => {
    const nodes = await cluster(['node-a', 'node-b', 'node-c']);
    const smart = client([nodes.node('node-c').http]);
    const moving = await smart.open(nodes.documentOwnedBy('node-a', 'moving'));
    const staying = await smart.open(nodes.documentOwnedBy('node-a', 'staying'));
    await Promise.all([moving.whenSynced(), staying.whenSynced()]);
    expect(smart.sockets.size).toBe(1);
    moving.document.getText('body').insert(0, 'before');
    await until(() => moving.provider.unsyncedChanges === 0, 'the first owner to acknowledge the edit');

    const moved = new Promise<MoveEvent>((resolve) => moving.on('move', resolve));
    const answer = await nodes.migrate(nodes.node('node-b'), moving.documentName, 'node-b');
    expect(answer.status).toBe(200);
    expect(await moved).toMatchObject({ from: { id: 'node-a' }, to: { id: 'node-b' }, reason: 'redirect' });
    await moving.whenSynced();
    expect(moving.nodeId).toBe('node-b');
    moving.document.getText('body').insert(6, ' and after');
    const onNewOwner = observer(nodes.node('node-b'), moving.documentName);
    await until(() => onNewOwner.text() === 'before and after', 'both edits on the new owner');

    expect(staying.nodeId).toBe('node-a');
    expect(staying.isSynced).toBe(true);
    staying.document.getText('body').insert(0, 'still here');
    const onOldOwner = observer(nodes.node('node-a'), staying.documentName);
    await until(() => onOldOwner.text() === 'still here', 'the other document to keep working on its node');
    expect(smart.sockets.has('node-a')).toBe(true);
  });

  it('follows its documents when their owner leaves the cluster', async () => {
    const nodes = await cluster(['node-a', 'node-b', 'node-c']);
    const smart = client([nodes.node('node-a').http]);
    const handle = await smart.open(nodes.documentOwnedBy('node-c', 'leave'));
    await handle.whenSynced();
    handle.document.getText('body').insert(0, 'kept across the leave');

    await nodes.remove('node-c');
    await until(() => handle.isSynced && handle.nodeId !== 'node-c', 'the document to sync on its new owner');
    const owner = nodes.owner(handle.documentName);
    expect(handle.nodeId).toBe(owner.id);
    const onOwner = observer(owner, handle.documentName);
    await until(() => onOwner.text() === 'kept across the leave', 'the edit on the new owner');
    expect(smart.sockets.has('node-c')).toBe(false);
  });
});
