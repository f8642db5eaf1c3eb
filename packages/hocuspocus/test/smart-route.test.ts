import { MemoryBus, MemoryMembership, RingRouteConfigError } from '@ringroute/ring-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createSmartClient } from '../src/client/index.js';
import { DocumentRefusal, MISROUTED_REASON, parseRedirectHint, SmartRoute, UNAVAILABLE_REASON, type AvailableNode } from '../src/index.js';
import { HOCUSPOCUS_MAJOR, Server } from './support/hocuspocus.js';
import { freePort, until } from './support/ports.js';
import { createTable } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';
import { ADMIN_TOKEN, documentOwnedBy, plainProvider, socketTo, startNode, type TestNode } from './support/node.js';

interface StatsBody {
  routing: { admitted: number; redirected: number };
  documents: { loaded: number; connections: number };
}

let table: Awaited<ReturnType<typeof createTable>>;
let redis: Awaited<ReturnType<typeof redisCluster>>;
const nodes: TestNode[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  table = await createTable();
  redis = await redisCluster();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await Promise.all(nodes.map((node) => node.stop()));
  await redis.cleanup();
  await table.drop();
});

describe('compatibility', () => {
  it(`runs against @hocuspocus/server ${HOCUSPOCUS_MAJOR}.x`, () => {
    const server = new Server({ quiet: true, stopOnSignals: false });
    // flushPendingStores is new in 4.x (which needs Node 22)
    expect(typeof (server.hocuspocus as { flushPendingStores?: unknown }).flushPendingStores === 'function').toBe(HOCUSPOCUS_MAJOR === 4);
    if (HOCUSPOCUS_MAJOR === 4) expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  });
});

describe('options', () => {
  it('rejects invalid options at construction, naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ nodeId: '' }, 'nodeId'],
      [{ nodePort: 70_000 }, 'nodePort'],
      [{ nodeWeight: -1 }, 'nodeWeight'],
      [{ enforceRouting: 'yes' }, 'enforceRouting'],
      [{ redirectOnMisroute: 1 }, 'redirectOnMisroute'],
      [{ clusterNodes: [{ id: 'b', address: '127.0.0.1' }] }, 'clusterNodes[0].port'],
      [{ nodeId: 'a', clusterNodes: [{ id: 'a', address: 'x', port: 1 }] }, 'clusterNodes[0].id'],
      [{ healthCheck: { interval: 0 } }, 'healthCheck.interval'],
      [{ healthCheck: { backoffMultiplier: 0.5 } }, 'healthCheck.backoffMultiplier'],
      [{ healthCheck: { backoff: 2 } }, 'healthCheck.backoff'],
      [{ nodeID: 'a' }, 'nodeID'],
      [{ clusterNodes: [{ id: 'b', address: '127.0.0.1', port: 1, wieght: 2 }] }, 'clusterNodes[0].wieght'],
      [{ syncInterval: 'fast' }, 'syncInterval'],
      [{ migrationTimeout: -5 }, 'migrationTimeout'],
      [{ customRoutingFunction: 'user-' }, 'customRoutingFunction'],
      [{ redis: 'localhost:6379' }, 'redis'],
      [{ adminToken: 'short' }, 'adminToken'],
      [{ nodeUrl: 'http://x:1' }, 'nodeUrl'],
      [{ membership: {} }, 'membership'],
      [{ misroute: 'bounce' }, 'misroute'],
      [{ misroute: 'relay', redirectOnMisroute: true }, 'misroute'],
      [{ clusterNodes: [{ id: 'b', address: '127.0.0.1', port: 1 }] }, 'secret'], // relay mode (the default) signs node links
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        new SmartRoute(options);
      } catch (e) {
        error = e;
      }
      expect(error, option).toBeInstanceOf(RingRouteConfigError);
      expect((error as RingRouteConfigError).option).toBe(option);
      expect((error as Error).message).toContain(option);
    }
  });

  it('accepts the seed defaults', () => {
    const smartRoute = new SmartRoute();
    expect(smartRoute.nodeId).toMatch(/^node-/);
    expect(smartRoute.isInitialized).toBe(false);
  });
});

describe('static cluster (no Redis)', () => {
  it('routes with customRoutingFunction, falling back to hashing on null', async () => {
    const seen: AvailableNode[][] = [];
    const smartRoute = new SmartRoute({
      nodeId: 'small',
      nodePort: 8000,
      secret: 'static-cluster-secret',
      clusterNodes: [{ id: 'big', address: '10.0.0.2', port: 8001, weight: 2 }],
      customRoutingFunction: (documentId, availableNodes) => {
        seen.push([...availableNodes]);
        return documentId.startsWith('user-') ? (availableNodes.find((n) => n.weight > 1) ?? null) : null;
      },
    });
    await smartRoute.start();
    cleanups.push(() => smartRoute.leave());
    for (let i = 0; i < 20; i++) expect(smartRoute.ring!.owner(`user-${i}`)!.id).toBe('big');
    const owners = new Set(Array.from({ length: 50 }, (_, i) => smartRoute.ring!.owner(`doc-${i}`)!.id));
    expect(owners).toEqual(new Set(['small', 'big']));
    expect(seen[0]).toContainEqual({ id: 'big', address: '10.0.0.2', port: 8001, weight: 2, url: 'ws://10.0.0.2:8001', status: 'alive' });
  });

  it('health-checks the other nodes over HTTP and routes around a dead one', async () => {
    const [port, peerPort, downPort] = await Promise.all([freePort(), freePort(), freePort()]);
    // A refused connection fails at once, whatever the timeout: a generous one keeps a slow answer on a busy machine from
    // counting against the live peer.
    const healthCheck = { interval: 50, timeout: 2000, retries: 1, backoffMultiplier: 1, maxBackoff: 100 };
    const peer = await startNode('peer', peerPort, table.table, { clusterNodes: [{ id: 'self', address: '127.0.0.1', port }] });
    nodes.push(peer);
    const node = await startNode('self', port, table.table, {
      healthCheck,
      clusterNodes: [
        { id: 'peer', address: '127.0.0.1', port: peerPort },
        { id: 'down', address: '127.0.0.1', port: downPort }, // nothing listens there
      ],
    });
    nodes.push(node);
    const name = documentOwnedBy(node.smartRoute, 'down', 'health');
    await until(() => node.smartRoute.ring!.node('down')!.status === 'dead', 'the unreachable node to be declared dead');
    expect(node.smartRoute.ring!.node('peer')!.status).toBe('alive'); // its GET /health answers
    expect(node.smartRoute.ring!.owner(name)!.id).not.toBe('down');
  });

  it('runs on any ring-core membership', async () => {
    const bus = new MemoryBus();
    const [one, two] = ['m1', 'm2'].map(
      (id) =>
        new SmartRoute({
          nodeId: id,
          nodePort: 8000,
          secret: 'memory-cluster-secret',
          membership: new MemoryMembership({ bus, self: { id, url: `ws://${id}:8000` } }),
        }),
    );
    await one!.start();
    await two!.start();
    cleanups.push(
      () => one!.leave(),
      () => two!.leave(),
    );
    await until(() => one!.ring!.nodes.length === 2, 'both members');
    const name = documentOwnedBy(one!, 'm2', 'mem');
    expect(one!.decide(name)).toMatchObject({ action: 'refuse', owner: { id: 'm2' } });
    expect(two!.decide(name)).toMatchObject({ action: 'local' });
  });

  it('refuses in onConnect, before authentication and loading', async () => {
    const port = await freePort();
    const calls: string[] = [];
    const smartRoute = new SmartRoute({
      nodeId: 'gate',
      nodePort: port,
      redirectOnMisroute: true,
      clusterNodes: [{ id: 'elsewhere', address: '127.0.0.1', port: 1 }],
    });
    const server = new Server({
      port,
      address: '127.0.0.1',
      quiet: true,
      stopOnSignals: false,
      // listed before SmartRoute on purpose: its priority still puts it first
      extensions: [
        { onAuthenticate: async () => void calls.push('onAuthenticate'), onLoadDocument: async () => void calls.push('onLoadDocument') },
        smartRoute,
      ],
    });
    await server.listen();
    cleanups.push(() => server.destroy());
    const socket = socketTo(`ws://127.0.0.1:${port}`);
    cleanups.push(() => socket.destroy());
    const refused = plainProvider(socket, documentOwnedBy(smartRoute, 'elsewhere', 'gate'));
    const admitted = plainProvider(socket, documentOwnedBy(smartRoute, 'gate', 'gate'));
    await until(() => refused.refusals.length > 0 && admitted.provider.isSynced, 'the refusal and the sync');
    expect(parseRedirectHint(refused.refusals[0])?.ownerUrl).toBe('ws://127.0.0.1:1');
    expect(calls).toEqual(['onAuthenticate', 'onLoadDocument']); // only the admitted document's
  });

  it('adds and removes cluster nodes at run time', async () => {
    const smartRoute = new SmartRoute({ nodeId: 'one', nodePort: 8000 });
    await smartRoute.start();
    cleanups.push(() => smartRoute.leave());
    await smartRoute.addClusterNode({ id: 'node-4', address: '127.0.0.1', port: 8003, weight: 1 });
    expect(smartRoute.ring!.node('node-4')).toMatchObject({ url: 'ws://127.0.0.1:8003', weight: 1, status: 'alive' });
    await smartRoute.removeClusterNode('node-4');
    expect(smartRoute.ring!.node('node-4')).toBeUndefined();
    await expect(smartRoute.addClusterNode({ id: 'bad', address: '127.0.0.1', port: 'x' as unknown as number })).rejects.toMatchObject({
      option: 'node.port',
    });
  });

  it('after leaving: not ready, and refuses documents as unavailable', async () => {
    const node = await startNode('leaver', await freePort(), table.table, {});
    nodes.push(node);
    await node.smartRoute.leave();
    expect(node.smartRoute.isInitialized).toBe(false);
    expect((await fetch(`${node.http}/ready`)).status).toBe(503);
    expect((await fetch(`${node.http}/api/routes/ring`)).status).toBe(503);
    const socket = socketTo(node.url);
    cleanups.push(() => socket.destroy());
    const { refusals } = plainProvider(socket, 'anything');
    await until(() => refusals.length > 0, 'the refusal');
    expect(refusals).toEqual([UNAVAILABLE_REASON]);
  });
});

describe('single-node mode (enforceRouting: false, no Redis)', () => {
  it('serves every document, syncs clients and answers the monitoring routes', async () => {
    const port = await freePort();
    const node = await startNode('solo', port, table.table, {
      enforceRouting: false,
      clusterNodes: [{ id: 'other', address: '127.0.0.1', port: 1 }],
    });
    nodes.push(node);
    expect(node.smartRoute.isInitialized).toBe(true);

    // 'other' owns about half of the keys, but nothing is enforced: a document it owns is served here.
    const name = documentOwnedBy(node.smartRoute, 'other', 'solo');
    const a = plainProvider(socketTo(node.url), name);
    const b = plainProvider(socketTo(node.url), name);
    cleanups.push(() => [a, b].forEach(({ provider }) => provider.configuration.websocketProvider.destroy()));
    a.provider.document.getMap('m').set('hello', 'world');
    await until(() => b.provider.document.getMap('m').get('hello') === 'world', 'the edit to reach the second client');
    expect(a.refusals).toEqual([]);

    const ready = await fetch(`${node.http}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const health = await (await fetch(`${node.http}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', self: 'solo' }); // one /health shape in every adapter
    const ring = await fetch(`${node.http}/api/routes/ring`);
    expect(ring.headers.get('access-control-allow-origin')).toBe('*');
    expect((await ring.json()).nodes.map((n: { id: string }) => n.id)).toEqual(['other', 'solo']);
    const doc = await (await fetch(`${node.http}/api/routes/document/${encodeURIComponent(name)}`)).json();
    expect(doc).toMatchObject({ documentId: name, owner: { id: 'other' }, url: 'ws://127.0.0.1:1', local: false });
    expect((await fetch(`${node.http}/api/routes/nope`)).status).toBe(404);
    expect((await fetch(`${node.http}/api/routes/stats`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${node.http}/`)).status).toBe(200); // Hocuspocus's own answer is untouched
  });
});

describe('a Redis cluster of two nodes', () => {
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    const options = { redis: REDIS_URL, cluster: redis.cluster, syncInterval: 200, migrationTimeout: 2000 };
    a = await startNode('a', await freePort(), table.table, options);
    b = await startNode('b', await freePort(), table.table, options);
    nodes.push(a, b);
    await until(() => a.smartRoute.ring?.nodes.length === 2, 'a to see b');
  });

  it('refuses a misrouted document with a hint a plain provider can parse', async () => {
    const name = documentOwnedBy(a.smartRoute, 'a', 'plain');
    const socket = socketTo(b.url);
    cleanups.push(() => socket.destroy());
    const { refusals } = plainProvider(socket, name);
    await until(() => refusals.length > 0, 'the refusal');
    expect(parseRedirectHint(refusals[0])).toEqual({
      documentName: name,
      ownerId: 'a',
      ownerUrl: a.url,
      epoch: b.smartRoute.ring!.epoch,
      hops: 1,
    });
  });

  it('refuses a direct connection (onLoadDocument) to a document another node owns', async () => {
    const name = documentOwnedBy(a.smartRoute, 'b', 'direct');
    const error = await a.server.hocuspocus.openDirectConnection(name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DocumentRefusal);
    expect(parseRedirectHint((error as DocumentRefusal).reason)).toMatchObject({ documentName: name, ownerId: 'b', ownerUrl: b.url });
    const own = await a.server.hocuspocus.openDirectConnection(documentOwnedBy(a.smartRoute, 'a', 'direct'));
    await own.disconnect();
  });

  it('refuses instead of redirecting once the client has made maxHops hops', async () => {
    const socket = socketTo(`${b.url}?ringroute-hops=3`);
    cleanups.push(() => socket.destroy());
    const { refusals } = plainProvider(socket, documentOwnedBy(a.smartRoute, 'a', 'hops'));
    await until(() => refusals.length > 0, 'the refusal');
    expect(refusals).toEqual([UNAVAILABLE_REASON]);
  });

  it('refuses without a hint when redirectOnMisroute is off', async () => {
    const port = await freePort();
    const c = await startNode('c', port, table.table, {
      redirectOnMisroute: false,
      clusterNodes: [{ id: 'a', address: '127.0.0.1', port: a.port }],
    });
    nodes.push(c);
    const socket = socketTo(c.url);
    cleanups.push(() => socket.destroy());
    const { refusals } = plainProvider(socket, documentOwnedBy(c.smartRoute, 'a', 'nohint'));
    await until(() => refusals.length > 0, 'the refusal');
    expect(refusals).toEqual([MISROUTED_REASON]);
  });

  it('refuses one document on a multiplexed socket and leaves the others connected and syncing', async () => {
    const mine = [documentOwnedBy(a.smartRoute, 'a', 'mux-a'), documentOwnedBy(a.smartRoute, 'a', 'mux-c')];
    const theirs = documentOwnedBy(a.smartRoute, 'b', 'mux-b');
    const socket = socketTo(a.url);
    const other = socketTo(a.url);
    cleanups.push(
      () => socket.destroy(),
      () => other.destroy(),
    );
    const [first, second] = mine.map((name) => plainProvider(socket, name));
    const misrouted = plainProvider(socket, theirs);
    const watcher = plainProvider(other, mine[0]!);
    await until(() => misrouted.refusals.length > 0 && first!.provider.isSynced && second!.provider.isSynced, 'refusal and syncs');
    expect(parseRedirectHint(misrouted.refusals[0])?.ownerId).toBe('b');

    first!.provider.document.getMap('m').set('after-refusal', 1);
    await until(() => watcher.provider.document.getMap('m').get('after-refusal') === 1, 'an edit on the shared socket to sync');
    expect(first!.refusals).toEqual([]);
    expect(second!.refusals).toEqual([]);
    expect(first!.closes).toEqual([]);
  });

  it('answers document routing, stats and bad requests', async () => {
    const name = documentOwnedBy(a.smartRoute, 'b', 'route');
    const doc = await (await fetch(`${a.http}/api/routes/document/${name}`)).json();
    expect(doc).toMatchObject({ documentId: name, owner: { id: 'b' }, url: b.url, epoch: a.smartRoute.ring!.epoch, local: false });
    expect((await fetch(`${a.http}/api/routes/document/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${a.http}/api/routes/document/${'x'.repeat(2000)}`)).status).toBe(400);

    // Stats count what happened: a document a owns opened on a, one b owns refused by a with a hint.
    const stats = async () => (await (await fetch(`${a.http}/api/routes/stats`)).json()) as StatsBody;
    const before = await stats();
    const socket = socketTo(a.url);
    cleanups.push(() => socket.destroy());
    const own = plainProvider(socket, documentOwnedBy(a.smartRoute, 'a', 'stats'));
    const theirs = plainProvider(socket, documentOwnedBy(a.smartRoute, 'b', 'stats'));
    await until(() => own.provider.isSynced && theirs.refusals.length > 0, 'the sync and the refusal');
    const after = await stats();
    expect(after.routing.admitted).toBeGreaterThan(before.routing.admitted);
    expect(after.routing.redirected).toBe(before.routing.redirected + 1);
    expect(after.routing).toEqual(a.smartRoute.counters);
    expect(after.documents.loaded).toBe(a.smartRoute.hocuspocus!.documents.size);
    expect(a.smartRoute.hocuspocus!.documents.has(own.provider.configuration.name)).toBe(true);
    expect(after.documents.connections).toBe(a.smartRoute.hocuspocus!.getConnectionsCount());
    const metrics = await (await fetch(`${a.http}/metrics`)).text();
    expect(metrics).toContain('ringroute_ring_epoch{node="a"}');
    expect(metrics).toMatch(/ringroute_hocuspocus_events_total\{node="a",event="redirected"\} \d+/);
  });

  it('refuses the migrate endpoint without a valid token, and rejects bad bodies', async () => {
    const post = (body: unknown, token?: string) =>
      fetch(`${a.http}/api/routes/migrate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    expect((await post({ documentId: 'x', targetNodeId: 'b' })).status).toBe(401);
    expect((await post({ documentId: 'x', targetNodeId: 'b' }, 'wrong-token-0123456789')).status).toBe(401);
    expect((await post('{nope', ADMIN_TOKEN)).status).toBe(400);
    expect((await post({ documentId: '', targetNodeId: 'b' }, ADMIN_TOKEN)).status).toBe(400);
    expect((await post({ documentId: 'x', targetNodeId: 7 }, ADMIN_TOKEN)).status).toBe(400);
    const unknown = await post({ documentId: 'x', targetNodeId: 'zzz' }, ADMIN_TOKEN);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ reason: 'unknown-node' });
    // A node without adminToken has the route off.
    const port = await freePort();
    const locked = await startNode('locked', port, table.table, { adminToken: undefined, enforceRouting: false });
    nodes.push(locked);
    const off = await fetch(`${locked.http}/api/routes/migrate`, { method: 'POST', body: '{}' });
    expect(off.status).toBe(403);
  });

  it('migrates a document with the token: the store is flushed, every client follows, pins are shared', async () => {
    const name = documentOwnedBy(a.smartRoute, 'a', 'migrate');
    const clients = [0, 1].map(() => createSmartClient({ nodes: [a.http], WebSocketPolyfill: WebSocket }));
    cleanups.push(() => clients.forEach((client) => client.destroy()));
    const [one, two] = await Promise.all(clients.map((client) => client.open(name)));
    await Promise.all([one!.whenSynced(), two!.whenSynced()]);
    expect(one!.nodeId).toBe('a');
    one!.document.getMap('m').set('before', 'migration');
    await until(() => two!.document.getMap('m').get('before') === 'migration', 'the edit before the migration');

    const response = await fetch(`${a.http}/api/routes/migrate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: name, targetNodeId: 'b' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ documentId: name, from: { id: 'a' }, to: { id: 'b' }, pinned: 'b', handedOver: true });
    expect(a.smartRoute.hocuspocus?.documents.has(name)).toBe(false);

    await until(() => one!.nodeId === 'b' && two!.nodeId === 'b' && one!.isSynced && two!.isSynced, 'both clients to follow to b');
    two!.document.getMap('m').set('after', 'migration');
    await until(() => one!.document.getMap('m').get('after') === 'migration', 'an edit on the new owner');
    expect(b.smartRoute.hocuspocus?.documents.get(name)?.getMap('m').get('before')).toBe('migration');
    // The pin lives in the shared ring: every node, and a node that starts later, sees it.
    expect(b.smartRoute.ring?.pins[name]).toBe('b');
    const late = await startNode('late', await freePort(), table.table, { redis: REDIS_URL, cluster: redis.cluster, syncInterval: 200 });
    nodes.push(late);
    expect(late.smartRoute.ring?.pins[name]).toBe('b');

    // Unpinning through a node that is not the owner: the answer waits for b's handover, and the clients move back.
    const back = await fetch(`${late.http}/api/routes/migrate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: name, targetNodeId: null }),
    });
    const owner = late.smartRoute.ring!.owner(name)!.id;
    expect(await back.json()).toMatchObject({ from: { id: 'b' }, to: { id: owner }, pinned: null, handedOver: true });
    expect(b.smartRoute.hocuspocus?.documents.has(name)).toBe(false);
    await until(() => one!.nodeId === owner && two!.nodeId === owner && one!.isSynced && two!.isSynced, 'both clients to follow the unpin');
    one!.document.getMap('m').set('back', true);
    await until(() => two!.document.getMap('m').get('back') === true, 'an edit after the second move');
  });
});
