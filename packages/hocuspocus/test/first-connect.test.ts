import type { ClusterMessage } from '@ringroute/ring-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HANDED_OVER_RING, HANDOVER_REQUEST } from '../src/handover/protocol.js';
import { plainProvider, socketTo, startNode, type TestNode } from './support/node.js';
import { freePort, until } from './support/ports.js';
import { createTable, type PersistenceControl } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';

const DOCUMENTS = 100;
const BARRIER = 'test:barrier';
const MIGRATION_TIMEOUT = 5000;

describe('first connects on a freshly formed cluster', () => {
  let table: Awaited<ReturnType<typeof createTable>>;
  let redis: Awaited<ReturnType<typeof redisCluster>>;
  const started: TestNode[] = [];
  const sockets: ReturnType<typeof socketTo>[] = [];

  beforeAll(async () => {
    table = await createTable();
    redis = await redisCluster();
  });

  afterEach(async () => {
    sockets.splice(0).forEach((socket) => socket.destroy());
    await Promise.all(started.splice(0).map((node) => node.stop()));
  });

  afterAll(async () => {
    await redis?.cleanup();
    await table?.drop();
  });

  const options = (cluster: string) => ({
    redis: REDIS_URL,
    cluster: `${redis.cluster}-${cluster}`,
    secret: 'first-connect-secret',
    redirectOnMisroute: undefined,
    syncInterval: 200,
    migrationTimeout: MIGRATION_TIMEOUT,
  });
  const node = async (id: string, cluster: string, persistence: PersistenceControl = {}) => {
    const created = await startNode(id, await freePort(), table.table, options(cluster), persistence);
    started.push(created);
    return created;
  };

  /**
   * Nodes a, b and c formed at once, as a deployment starts its replicas (every node sees rings without some of the
   * others first), then DOCUMENTS documents opened behind one URL: each goes to any node, which relays it to its owner.
   */
  async function formAndLoad(cluster: string, persistence?: PersistenceControl) {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(id, cluster, persistence)));
    await until(() => nodes.every((n) => n.smartRoute.ring?.nodes.length === 3), 'three members everywhere');
    const requests: ClusterMessage[] = [];
    const barriers = new Set<string>();
    for (const n of nodes) {
      n.smartRoute.membershipInstance!.on('message', (message) => {
        if (message.type === HANDOVER_REQUEST) requests.push(message);
        if (message.type === BARRIER) barriers.add(`${message.from}->${n.id}`);
      });
    }
    // Pub/sub delivers each node's messages in order: once every node heard every other's barrier, it has heard
    // what they announced when the ring formed too (as clients arriving a moment after a deployment would).
    await Promise.all(nodes.map((n) => n.smartRoute.membershipInstance!.broadcast(BARRIER, {})));
    await until(() => barriers.size === nodes.length * (nodes.length - 1), 'every barrier everywhere');

    for (const n of nodes) sockets.push(socketTo(n.url));
    const clients = Array.from({ length: DOCUMENTS }, (_, i) => plainProvider(sockets[i % nodes.length]!, `${cluster}-${i}`));
    await until(() => clients.every((client) => client.provider.isSynced), `${DOCUMENTS} documents synced`, 30_000);
    return { nodes, clients, requests };
  }

  it('load at once: no node waits for, or asks for, a handover of a document nobody held', async () => {
    const { nodes, clients, requests } = await formAndLoad('load');
    const loaded = nodes.map((n) => n.smartRoute.hocuspocus!.documents.size);
    expect(loaded.reduce((sum, n) => sum + n, 0)).toBe(DOCUMENTS);
    expect(loaded.every((n) => n > 0)).toBe(true); // every node owns some: each one's first connects are measured
    expect(nodes.map((n) => n.smartRoute.counters.waitedForHandover)).toEqual([0, 0, 0]);
    expect(requests).toEqual([]);
    expect(clients.flatMap((client) => client.refusals)).toEqual([]);
  }, 60_000);

  it('a node holding documents the new ring gives away does not announce it: their new owner waits for their handovers', async () => {
    // The old owners' stores are slow, so that their handovers are still under way when the clients move to d.
    const persistence: PersistenceControl = {};
    const { nodes, clients } = await formAndLoad('join', persistence);
    clients.forEach((client, i) => client.provider.document.getText('t').insert(0, `edit-${i}`));
    await until(() => clients.every((client) => client.provider.unsyncedChanges === 0), 'the edits acknowledged');
    const announcers = new Set<string>();
    for (const n of nodes)
      n.smartRoute.membershipInstance!.on('message', ({ type, from }) => type === HANDED_OVER_RING && from && announcers.add(from));
    const held = new Map(nodes.map((n) => [n.id, new Set(n.smartRoute.hocuspocus!.documents.keys())]));

    persistence.storeDelay = MIGRATION_TIMEOUT / 10;
    const d = await node('d', 'join');
    const all = [...nodes, d];
    await until(() => all.every((n) => n.smartRoute.ring?.nodes.length === 4), 'four members everywhere');
    const moved = clients.filter((client) => d.smartRoute.ring!.owner(client.provider.configuration.name)?.id === 'd');
    // Every old node gives some of its documents to d, so each of them holds documents the new ring gives away.
    for (const n of nodes) expect(moved.some((client) => held.get(n.id)!.has(client.provider.configuration.name))).toBe(true);
    await until(
      () => moved.every((client) => d.smartRoute.hocuspocus!.documents.has(client.provider.configuration.name)),
      'd loaded what it owns',
    );
    await until(() => moved.every((client) => client.provider.isSynced), 'moved documents synced');

    expect([...announcers].filter((id) => id !== 'd')).toEqual([]); // only d, which held nothing, announced the ring
    expect(d.smartRoute.counters.waitedForHandover).toBeGreaterThan(0);
    expect(d.smartRoute.counters.handoverTimeouts).toBe(0);
    for (const client of moved) {
      const i = Number(client.provider.configuration.name.slice('join-'.length));
      const served = d.smartRoute.hocuspocus!.documents.get(client.provider.configuration.name)!;
      expect(served.getText('t').toString()).toBe(`edit-${i}`);
    }
  }, 60_000);
});
