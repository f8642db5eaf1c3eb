import type { ClusterMessage } from '@ringroute/ring-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDED_OVER_RING, HANDOVER_REQUEST } from '../src/handover/protocol.js';
import { plainProvider, socketTo, startNode, type TestNode } from './support/node.js';
import { freePort, until } from './support/ports.js';
import { createTable, type PersistenceControl } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';

const DOCUMENTS = 100;
const BARRIER = 'test:barrier';

describe('first connects on a freshly formed cluster', () => {
  let table: Awaited<ReturnType<typeof createTable>>;
  let redis: Awaited<ReturnType<typeof redisCluster>>;
  let nodes: TestNode[] = [];
  const sockets: ReturnType<typeof socketTo>[] = [];
  /** The first three nodes' stores: slowed down in the join test so that handovers are still under way when clients move. */
  const persistence: PersistenceControl = {};
  let clients: ReturnType<typeof plainProvider>[] = [];
  const options = () => ({
    redis: REDIS_URL,
    cluster: redis.cluster,
    secret: 'first-connect-secret',
    redirectOnMisroute: undefined,
    syncInterval: 200,
    migrationTimeout: 5000,
  });

  beforeAll(async () => {
    table = await createTable();
    redis = await redisCluster();
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.cleanup();
    await table?.drop();
  });

  it('load at once: no node waits for, or asks for, a handover of a document nobody held', async () => {
    // Formed at once, as a deployment starts its replicas: every node sees rings without some of the others first.
    nodes = await Promise.all(['a', 'b', 'c'].map(async (id) => startNode(id, await freePort(), table.table, options(), persistence)));
    await until(() => nodes.every((node) => node.smartRoute.ring?.nodes.length === 3), 'three members everywhere');
    const requests: ClusterMessage[] = [];
    const barriers = new Set<string>();
    for (const node of nodes) {
      node.smartRoute.membershipInstance!.on('message', (message) => {
        if (message.type === HANDOVER_REQUEST) requests.push(message);
        if (message.type === BARRIER) barriers.add(`${message.from}->${node.id}`);
      });
    }
    // Pub/sub delivers each node's messages in order: once every node heard every other's barrier, it has heard
    // what they announced when the ring formed too (as clients arriving a moment after a deployment would).
    await Promise.all(nodes.map((node) => node.smartRoute.membershipInstance!.broadcast(BARRIER, {})));
    await until(() => barriers.size === nodes.length * (nodes.length - 1), 'every barrier everywhere');

    // Behind one URL: each document goes to any node, which relays it to its owner.
    for (const node of nodes) sockets.push(socketTo(node.url));
    clients = Array.from({ length: DOCUMENTS }, (_, i) => plainProvider(sockets[i % sockets.length]!, `fresh-${i}`));
    await until(() => clients.every((client) => client.provider.isSynced), `${DOCUMENTS} documents synced`, 30_000);

    const loaded = nodes.map((node) => node.smartRoute.hocuspocus!.documents.size);
    expect(loaded.reduce((sum, n) => sum + n, 0)).toBe(DOCUMENTS);
    expect(loaded.every((n) => n > 0)).toBe(true); // every node owns some: each one's first connects are measured
    expect(nodes.map((node) => node.smartRoute.counters.waitedForHandover)).toEqual([0, 0, 0]);
    expect(requests).toEqual([]);
    expect(clients.flatMap((client) => client.refusals)).toEqual([]);
  }, 60_000);

  it('a node holding documents the new ring gives away does not announce it: their new owner waits for their handovers', async () => {
    clients.forEach((client, i) => client.provider.document.getText('t').insert(0, `edit-${i}`));
    const announcers = new Set<string>();
    for (const node of nodes)
      node.smartRoute.membershipInstance!.on('message', ({ type, from }) => type === HANDED_OVER_RING && from && announcers.add(from));
    const held = new Map(nodes.map((node) => [node.id, new Set(node.smartRoute.hocuspocus!.documents.keys())]));

    const d = await startNode('d', await freePort(), table.table, options());
    nodes.push(d);
    await until(() => nodes.every((node) => node.smartRoute.ring?.nodes.length === 4), 'four members everywhere');
    const moved = clients.filter((client) => d.smartRoute.ring!.owner(client.provider.configuration.name)?.id === 'd');
    // Every old node gives some of its documents to d, so each of them holds documents the new ring gives away.
    for (const node of nodes.slice(0, 3))
      expect(moved.some((client) => held.get(node.id)!.has(client.provider.configuration.name))).toBe(true);
    await until(
      () => moved.every((client) => d.smartRoute.hocuspocus!.documents.has(client.provider.configuration.name)),
      'd loaded what it owns',
    );
    await until(() => moved.every((client) => client.provider.isSynced), 'moved documents synced');

    expect([...announcers].filter((id) => id !== 'd')).toEqual([]); // only d, which held nothing, announced the ring
    expect(d.smartRoute.counters.waitedForHandover).toBeGreaterThan(0);
    expect(d.smartRoute.counters.handoverTimeouts).toBe(0);
    for (const client of moved) {
      const i = Number(client.provider.configuration.name.slice('fresh-'.length));
      const served = d.smartRoute.hocuspocus!.documents.get(client.provider.configuration.name)!;
      expect(served.getText('t').toString()).toBe(`edit-${i}`);
    }
  }, 60_000);
});
