import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { answerOf, MessageType, peek, permissionDenied, SYNC_UPDATE } from '../src/relay/address.js';
import { linkToken, verifyLinkToken } from '../src/relay/auth.js';
import { LINK_HEADER, RELAY_PATH } from '../src/relay/index.js';
import { HocuspocusProvider, HocuspocusProviderWebsocket } from './support/hocuspocus.js';
import { documentOwnedBy, startNode, type TestNode } from './support/node.js';
import { freePort, until } from './support/ports.js';
import { createTable } from './support/postgres.js';
import { REDIS_URL, redisCluster } from './support/redis.js';

const SECRET = 'relay-test-cluster-secret';

/** What each node's onAuthenticate saw: the owner must be the one that authenticates a relayed client. */
interface Authentication {
  node: string;
  documentName: string;
  token: string;
  cookie: string | null | undefined;
}

/** Updates a node keeps unanswered for a while (as an owner busy or about to go away would): document -> node and until when. */
const held = new Map<string, { node: string; until: Promise<void>; updates: number }>();

/** The app's own hooks on every node: token checks (rejected, read-only), a stateless echo to every client, held updates. */
function app(node: string, seen: Authentication[]) {
  return {
    async beforeHandleMessage({ documentName, update }: { documentName: string; update: Uint8Array }) {
      const hold = held.get(documentName);
      const head = peek(update);
      if (hold?.node !== node || head?.type !== MessageType.Sync || head.subtype !== SYNC_UPDATE) return;
      hold.updates++;
      await hold.until;
    },
    async onAuthenticate(payload: {
      token: string;
      documentName: string;
      requestHeaders: Record<string, string | undefined> | Headers;
      connectionConfig: { readOnly: boolean };
    }) {
      const { token, documentName, requestHeaders, connectionConfig } = payload;
      const cookie = requestHeaders instanceof Headers ? requestHeaders.get('cookie') : requestHeaders.cookie;
      seen.push({ node, documentName, token, cookie });
      // An empty message keeps Hocuspocus from logging it; `reason` is what the provider receives.
      if (token === 'rejected') throw Object.assign(new Error(''), { reason: 'bad-token' });
      if (token === 'read-only') connectionConfig.readOnly = true;
    },
    async onStateless({ document, payload }: { document: { broadcastStateless(payload: string): void }; payload: string }) {
      document.broadcastStateless(`${node}:${payload}`);
    },
  };
}

/** A plain provider's shared socket; its ws sends a cookie, as a browser would. */
function socketTo(url: string, cookie = 'session=alice') {
  class CookieWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { cookie } });
    }
  }
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: CookieWebSocket });
  const closes: number[] = [];
  socket.on('close', () => closes.push(Date.now()));
  return { socket, closes };
}

/** A plain @hocuspocus/provider, recording what a client would notice: refusals, closes, stateless messages. */
function provider(socket: InstanceType<typeof HocuspocusProviderWebsocket>, name: string, token = 'good') {
  const record = { refusals: [] as string[], closes: [] as string[], stateless: [] as string[] };
  const instance = new HocuspocusProvider({
    websocketProvider: socket,
    name,
    token,
    document: new Y.Doc(),
    onAuthenticationFailed: ({ reason }) => record.refusals.push(reason),
    onClose: ({ event }) => record.closes.push(String(event.reason)),
    onStateless: ({ payload }) => record.stateless.push(payload),
  });
  instance.attach();
  return Object.assign(record, {
    provider: instance,
    text: instance.document.getText('t'),
    items: instance.document.getArray<number>('items'),
  });
}

/** The same awareness field as another client sees it. */
const awarenessOf = (client: ReturnType<typeof provider>, field: string) =>
  [...client.provider.awareness!.getStates().values()].map((state) => (state as Record<string, unknown>)[field]).filter(Boolean);

describe('relay wire format', () => {
  it("routes a 4.x session address (document\\0session) by its document, and reads a server's refusal", () => {
    const frame = permissionDenied('notes\0session-1', 'ringroute:misrouted');
    expect(peek(frame)).toMatchObject({ address: 'notes\0session-1', documentName: 'notes', type: 2, subtype: 1 });
    expect(answerOf(frame)).toEqual({ type: 2, subtype: 1, reason: 'ringroute:misrouted' });
    expect(peek(Uint8Array.from([0x05, 0x61]))).toBeUndefined(); // an address longer than the frame
  });

  it('accepts a link token only from the cluster secret, for this node, within 5 minutes', () => {
    const now = Date.now();
    expect(verifyLinkToken(SECRET, 'b', linkToken(SECRET, 'a', 'b', now), now)).toBe('a');
    expect(verifyLinkToken(SECRET, 'b', linkToken(SECRET, 'a', 'b', now - 6 * 60_000), now)).toBeUndefined();
    expect(verifyLinkToken(SECRET, 'b', linkToken('other', 'a', 'b', now), now)).toBeUndefined();
    expect(verifyLinkToken(undefined, 'b', linkToken(SECRET, 'a', 'b', now), now)).toBeUndefined(); // no secret here: no links
    expect(verifyLinkToken(SECRET, 'b', 'a.not-a-time.00', now)).toBeUndefined();
  });
});

describe('relay mode (misroute: relay): plain providers on any node', () => {
  let table: Awaited<ReturnType<typeof createTable>>;
  let redis: Awaited<ReturnType<typeof redisCluster>>;
  const seen: Authentication[] = [];
  const nodes: Record<string, TestNode> = {};
  const sockets: ReturnType<typeof socketTo>[] = [];
  const open = (url: string) => {
    const socket = socketTo(url);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    table = await createTable();
    redis = await redisCluster();
    const options = {
      redis: REDIS_URL,
      cluster: redis.cluster,
      secret: SECRET,
      syncInterval: 200,
      migrationTimeout: 3000,
      redirectOnMisroute: undefined,
    };
    for (const id of ['a', 'b', 'c']) nodes[id] = await startNode(id, await freePort(), table.table, options, {}, [app(id, seen)]);
    await until(() => Object.values(nodes).every((node) => node.smartRoute.ring?.nodes.length === 3), 'three members');
  });

  afterAll(async () => {
    for (const { socket } of sockets) socket.destroy();
    await Promise.all(Object.values(nodes).map((node) => node.stop()));
    await redis?.cleanup();
    await table?.drop();
  });

  it('syncs edits both ways between a direct and a relayed client; awareness and stateless pass; the owner holds the only Y.Doc', async () => {
    const { a, b } = nodes as Record<string, TestNode>;
    const name = documentOwnedBy(a!.smartRoute, 'b', 'relay-sync');
    const direct = provider(open(b!.url).socket, name);
    const relayed = provider(open(a!.url).socket, name);
    await until(() => direct.provider.isSynced && relayed.provider.isSynced, 'both clients synced');

    direct.text.insert(0, 'from-direct ');
    relayed.text.insert(0, 'from-relayed ');
    await until(
      () => [direct, relayed].every((c) => c.text.toString().includes('from-direct') && c.text.toString().includes('from-relayed')),
      'edits both ways',
    );

    relayed.provider.setAwarenessField('user', 'relayed-user');
    direct.provider.setAwarenessField('user', 'direct-user');
    await until(
      () => awarenessOf(direct, 'user').includes('relayed-user') && awarenessOf(relayed, 'user').includes('direct-user'),
      'awareness both ways',
    );

    relayed.provider.sendStateless('ping-from-relayed');
    direct.provider.sendStateless('ping-from-direct');
    await until(
      () => [direct, relayed].every((c) => c.stateless.includes('b:ping-from-relayed') && c.stateless.includes('b:ping-from-direct')),
      'stateless both ways',
    );

    expect(b!.server.hocuspocus.documents.has(name)).toBe(true);
    expect(a!.server.hocuspocus.documents.has(name)).toBe(false); // no Y.Doc on the relaying node
    expect(a!.smartRoute.relay.counters.relayed).toBeGreaterThan(0);
    const stats = (await (await fetch(`${a!.http}/api/routes/stats`)).json()) as { relay: { relayed: number; open: number } };
    expect(stats.relay.relayed).toBe(a!.smartRoute.relay.counters.relayed);
    expect(stats.relay.open).toBeGreaterThan(0);
    expect(relayed.refusals).toEqual([]);
  });

  it("exports the relay's counters in the node's Prometheus metrics, equal to its stats", async () => {
    const { a } = nodes as Record<string, TestNode>;
    const [metrics, stats] = await Promise.all([
      fetch(`${a!.http}/metrics`).then((res) => res.text()),
      fetch(`${a!.http}/api/routes/stats`).then((res) => res.json() as Promise<{ relay: Record<string, number> }>),
    ]);
    const sample = (name: string) => Number(metrics.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1]);
    for (const event of ['sessions', 'relayed', 'repointed', 'linksAccepted', 'linksRefused', 'malformed'])
      expect(sample(`ringroute_hocuspocus_relay_total{node="a",event="${event}"}`), event).toBe(stats.relay[event]);
    expect(sample('ringroute_hocuspocus_relay_total{node="a",event="relayed"}')).toBeGreaterThan(0); // the test above relayed through a
    expect(sample('ringroute_hocuspocus_relay_sessions{node="a"}')).toBe(stats.relay.open);
    expect(stats.relay.open).toBeGreaterThan(0);
  });

  it("runs the owner's onAuthenticate with the relayed client's token and cookie: rejections and read-only work as on a direct connection", async () => {
    const { a, b } = nodes as Record<string, TestNode>;
    const name = documentOwnedBy(a!.smartRoute, 'b', 'relay-auth');
    const relayedSocket = open(a!.url).socket;
    const writer = provider(open(b!.url).socket, name);
    const reader = provider(relayedSocket, name, 'read-only');
    const rejected = provider(relayedSocket, documentOwnedBy(a!.smartRoute, 'b', 'relay-rejected'), 'rejected');
    await until(
      () => writer.provider.isSynced && reader.provider.isSynced && rejected.refusals.length > 0,
      'the reader synced and the rejection',
    );

    expect(rejected.refusals).toEqual(['bad-token']);
    const forName = seen.filter((s) => s.documentName === name);
    expect(forName.filter((s) => s.node === 'a')).toEqual([]); // the relaying node never authenticates
    expect(forName).toContainEqual({ node: 'b', documentName: name, token: 'read-only', cookie: 'session=alice' });

    writer.text.insert(0, 'visible');
    await until(() => reader.text.toString() === 'visible', 'the read-only client receives updates');
    reader.text.insert(0, 'forbidden ');
    writer.text.insert(7, '!');
    await until(() => reader.text.toString().includes('!'), 'a later update from the writer');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b!.server.hocuspocus.documents.get(name)!.getText('t').toString()).toBe('visible!');
    expect(writer.text.toString()).toBe('visible!');
  });

  it('refuses node links without the cluster secret', async () => {
    const { a, b } = nodes as Record<string, TestNode>;
    const attempt = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const link = new WebSocket(`${b!.url}${RELAY_PATH}`, { headers });
        link.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          link.terminate();
        });
        link.on('open', () => {
          resolve(101);
          link.close();
        });
        link.on('error', reject);
      });
    const before = b!.smartRoute.relay.counters.linksRefused;
    expect(await attempt({})).toBe(401);
    expect(await attempt({ [LINK_HEADER]: linkToken('not-the-cluster-secret', 'a', 'b') })).toBe(401);
    expect(await attempt({ [LINK_HEADER]: linkToken(SECRET, 'a', 'c') })).toBe(401); // signed for another node
    expect(b!.smartRoute.relay.counters.linksRefused - before).toBe(3);
    expect(await attempt({ [LINK_HEADER]: linkToken(SECRET, 'a', 'b') })).toBe(101);
    expect(a!.smartRoute.relay.counters.linksRefused).toBe(0);
  });

  it('drops malformed link messages (counted) and closes a client socket that sends a malformed frame', async () => {
    const { a, b } = nodes as Record<string, TestNode>;
    const link = new WebSocket(`${b!.url}${RELAY_PATH}`, { headers: { [LINK_HEADER]: linkToken(SECRET, 'a', 'b') } });
    await new Promise((resolve, reject) => link.once('open', resolve).once('error', reject));
    const answers: Buffer[] = [];
    link.on('message', (data: Buffer) => answers.push(data));
    const before = b!.smartRoute.relay.counters.malformed;
    link.send(Buffer.from([9])); // too short for an envelope
    link.send(Buffer.from([1, 0, 0, 0, 7, 0, 0, 0, 9])); // a FRAME longer than the message
    link.send(Buffer.concat([Buffer.from([0, 0, 0, 0, 7, 0, 0, 0, 10]), Buffer.from('{"url":42}')])); // OPEN with a bad request
    await until(() => b!.smartRoute.relay.counters.malformed - before === 3 && answers.length === 1, 'all counted, the bad OPEN answered');
    expect([...answers[0]!.subarray(0, 11)]).toEqual([2, 0, 0, 0, 7, 0, 0, 0, 13, 0x11, 0x30]); // CLOSE channel 7 (13 bytes), code 4400
    link.close();

    const client = new WebSocket(a!.url);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    client.send(Buffer.from([0x05, 0x61])); // an address longer than the frame
    expect(await closed).toBe(4401);
  });

  it('acknowledges to a relayed client the updates an old owner never answered, once the new owner has them', async () => {
    const { a, c } = nodes as Record<string, TestNode>;
    const name = documentOwnedBy(a!.smartRoute, 'b', 'relay-acks');
    const relayed = provider(open(a!.url).socket, name);
    await until(() => relayed.provider.isSynced && relayed.provider.unsyncedChanges === 0, 'the relayed client synced');
    let release = () => {};
    const hold = { node: 'b', until: new Promise<void>((resolve) => (release = resolve)), updates: 0 };
    held.set(name, hold);
    try {
      relayed.items.push([1]);
      relayed.items.push([2]);
      await until(() => hold.updates >= 1, 'b to hold the updates'); // 3.4 holds both; 4.x queues the second behind the first
      expect(relayed.provider.unsyncedChanges).toBe(2);
      await a!.smartRoute.pin(name, 'c'); // b hands the document over without answering the updates
      setTimeout(release, 300); // (4.x's handover waits for messages in flight; 3.4's does not)
      await until(() => c!.server.hocuspocus.documents.get(name)?.getArray('items').length === 2, 'the updates at c (from the re-sync)');
      // c's SyncStatus for the client's re-sync also acknowledges the updates b never answered.
      await until(
        () => relayed.provider.unsyncedChanges === 0,
        `the updates acknowledged (${relayed.provider.unsyncedChanges} unsynced)`,
        5000,
      );
    } finally {
      release();
      held.delete(name);
    }
    relayed.items.push([3]); // and the count stays exact afterwards
    expect(relayed.provider.unsyncedChanges).toBe(1);
    await until(
      () => relayed.provider.unsyncedChanges === 0 && c!.server.hocuspocus.documents.get(name)?.getArray('items').length === 3,
      'the next update acknowledged by c',
    );
    expect(relayed.refusals).toEqual([]);
  });

  it("re-points a relayed document when its owner changes, keeping the client's socket and every update", async () => {
    const { a, b, c } = nodes as Record<string, TestNode>;
    const name = documentOwnedBy(a!.smartRoute, 'b', 'relay-move');
    const relayedSocket = open(a!.url);
    const relayed = provider(relayedSocket.socket, name);
    await until(() => relayed.provider.isSynced, 'the relayed client synced');

    let written = 0;
    const writing = setInterval(() => relayed.items.push([written++]), 10);
    const owns = (node: TestNode) =>
      until(
        () => node.server.hocuspocus.documents.has(name) && node.smartRoute.ring?.owner(name)?.id === node.id,
        `${node.id} to serve ${name}`,
      );
    try {
      await a!.smartRoute.pin(name, 'c'); // another remote owner
      await owns(c!);
      await a!.smartRoute.pin(name, 'a'); // the relaying node itself
      await owns(a!);
      await a!.smartRoute.pin(name, 'b'); // remote again
      await owns(b!);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      clearInterval(writing);
    }
    const everything = Array.from({ length: written }, (_, i) => i);
    await until(() => b!.server.hocuspocus.documents.get(name)?.getArray('items').length === written, 'every update at the final owner');
    expect([...b!.server.hocuspocus.documents.get(name)!.getArray<number>('items').toArray()].sort((x, y) => x - y)).toEqual(everything);
    // A fresh reader through yet another node sees them too.
    const reader = provider(open(c!.url).socket, name);
    await until(() => reader.items.length === written, 'a fresh reader to see every update');
    // The client learns that every update is acknowledged, those in flight to an old owner included: the owner's
    // SyncStatus for the re-sync settles them (a plain provider's unsyncedChanges would otherwise never reach 0).
    await until(
      () => relayed.provider.unsyncedChanges === 0,
      `the relayed client to see every update acknowledged (${relayed.provider.unsyncedChanges} left)`,
      5000,
    );

    expect(relayedSocket.closes).toEqual([]); // the client's socket stayed open
    expect(relayed.closes).toEqual([]); // and the document was never closed for it
    expect(relayed.refusals).toEqual([]);
    expect(a!.smartRoute.relay.counters.repointed).toBeGreaterThanOrEqual(3);
  });
});
