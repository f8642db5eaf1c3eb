import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSmartClient, type MoveEvent, type SmartClient } from '@ringroute/hocuspocus/client';
import { spawnNode, type NodeProcess } from '../support/cluster.js';
import { plainProvider, socketTo } from '../support/node.js';
import { until } from '../support/ports.js';
import { createTable } from '../support/postgres.js';
import { REDIS_URL, redisCluster } from '../support/redis.js';

// A node that is killed (kill -9) cannot send hints: the client notices its socket is lost, refetches the ring
// from the other nodes until they have declared the node dead, and moves its documents to the new owners.
let table: Awaited<ReturnType<typeof createTable>>;
let redis: Awaited<ReturnType<typeof redisCluster>>;
const processes: NodeProcess[] = [];
let client: SmartClient | undefined;

beforeAll(async () => {
  table = await createTable();
  redis = await redisCluster();
});

afterAll(async () => {
  client?.destroy();
  await Promise.all(processes.map((node) => node.kill()));
  await redis.cleanup();
  await table.drop();
});

describe('client helper when a node is killed', () => {
  it('moves the documents of a killed node to their new owners, with their edits', async () => {
    const config = { table: table.table, redis: REDIS_URL, cluster: redis.cluster, syncInterval: 200, migrationTimeout: 1000 };
    processes.push(...(await Promise.all(['k1', 'k2', 'k3'].map((id) => spawnNode(id, config)))));
    const [k1, , k3] = processes as [NodeProcess, NodeProcess, NodeProcess];
    await until(async () => (await (await fetch(`${k1.http}/api/routes/ring`)).json()).nodes.length === 3, 'three members');

    client = createSmartClient({ nodes: [k1.http], WebSocketPolyfill: WebSocket, socket: { delay: 100, minDelay: 100, maxDelay: 500 } });
    await client.refreshRing();
    const names = Array.from({ length: 40 }, (_, i) => `killed-${i}`)
      .filter((name) => client!.ring!.owner(name)!.id === 'k3')
      .slice(0, 3);
    expect(names.length).toBe(3);
    const handles = await Promise.all(names.map((name) => client!.open(name)));
    await Promise.all(handles.map((handle) => handle.whenSynced()));
    const moves: MoveEvent[] = [];
    for (const handle of handles) {
      handle.on('move', (move) => moves.push(move));
      handle.document.getText('body').insert(0, `kept ${handle.documentName}`);
    }
    await until(() => handles.every((handle) => handle.provider.unsyncedChanges === 0), 'k3 to acknowledge the edits');

    await k3.kill();
    await until(
      () => handles.every((handle) => handle.isSynced && handle.nodeId !== 'k3'),
      'the documents to sync on their new owners',
      20_000,
      50,
    );
    expect(client.ring?.node('k3') === undefined || client.ring?.node('k3')?.status === 'dead').toBe(true);
    expect(moves.map((move) => [move.documentName, move.from.id, move.reason]).sort()).toEqual(
      names.map((name) => [name, 'k3', 'ring']).sort(),
    );
    expect(client.sockets.has('k3')).toBe(false);

    for (const handle of handles) {
      const owner = processes.find((node) => node.id === handle.nodeId)!;
      const socket = socketTo(owner.url);
      const { provider } = plainProvider(socket, handle.documentName);
      await until(
        () => provider.isSynced && provider.document.getText('body').toString() === `kept ${handle.documentName}`,
        `${handle.documentName} on ${owner.id}`,
      );
      provider.destroy();
      socket.destroy();
    }
  }, 60_000);
});
