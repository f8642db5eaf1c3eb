import { createRing, type Ring } from '@ringroute/ring-core';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmartClient, type MoveEvent, type SmartClient, type SmartRouteError } from '@ringroute/hocuspocus/client';
import { encodeRedirectHint, MISROUTED_REASON } from '../../src/hint/index.js';
import { until } from '../support/ports.js';
import { startScriptedNode, type ScriptedNode } from './fixtures.js';

// The client helper against real Hocuspocus servers whose refusals are scripted (see fixtures.ts).
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function node(options: Parameters<typeof startScriptedNode>[0]): Promise<ScriptedNode> {
  const started = await startScriptedNode(options);
  cleanup.push(() => started.close());
  return started;
}

function client(nodes: string[], extra: Partial<Parameters<typeof createSmartClient>[0]> = {}): SmartClient {
  const created = createSmartClient({ nodes, WebSocketPolyfill: WebSocket, backoff: { delay: 10 }, ...extra });
  cleanup.push(() => created.destroy());
  return created;
}

const hint = (documentName: string, to: ScriptedNode, epoch = 1) =>
  encodeRedirectHint({ documentName, ownerId: `node-${to.url.split(':').pop()}`, ownerUrl: to.url, epoch, hops: 1 });

describe('client helper against scripted nodes', () => {
  it('follows a redirect hint to the named node, keeping the Y.Doc and an edit made before the move', async () => {
    const owner = await node({});
    const wrong = await node({ refuse: (name) => hint(name, owner) });
    const smart = client([wrong.url]); // no ring endpoint: starts at the seed, follows its hint
    const handle = await smart.open('doc-a');
    const moves: MoveEvent[] = [];
    handle.on('move', (move) => moves.push(move));
    const doc = handle.document;
    doc.getText('body').insert(0, 'typed before the move');
    await handle.whenSynced();
    expect(handle.document).toBe(doc);
    expect(handle.nodeUrl).toBe(owner.url);
    expect(moves).toEqual([
      {
        documentName: 'doc-a',
        from: { id: undefined, url: wrong.url },
        to: { id: expect.any(String), url: owner.url },
        reason: 'redirect',
        hops: 1,
      },
    ]);
    await until(
      () => owner.server.hocuspocus.documents.get('doc-a')?.getText('body').toString() === 'typed before the move',
      'the edit on the owner',
    );
    expect(handle.hops).toBe(0); // reset by the sync
  });

  it('gives up with a max-hops error when two nodes bounce a document, stays detached, and reconnects on demand', async () => {
    const peer: { a?: ScriptedNode; bouncing: boolean } = { bouncing: true };
    const b = await node({ refuse: (name) => hint(name, peer.a!) });
    const a = (peer.a = await node({ refuse: (name) => (peer.bouncing ? hint(name, b) : undefined) }));
    const smart = client([a.url], { maxHops: 3 });
    const handle = await smart.open('doc-b');
    const error = await new Promise<SmartRouteError>((resolve) => handle.on('error', resolve));
    expect(error).toMatchObject({ name: 'SmartRouteError', code: 'max-hops', documentName: 'doc-b', hops: 3 });
    expect(a.connects.length + b.connects.length).toBe(4); // the first connect plus three moves
    await until(() => smart.sockets.size === 0 && a.sockets() + b.sockets() === 0, 'the sockets to close');
    expect(handle.isSynced).toBe(false);

    peer.bouncing = false; // the cluster agrees again: `a` serves the document
    handle.reconnect();
    await handle.whenSynced();
    expect(handle.nodeUrl).toBe(a.url);
    expect(handle.hops).toBe(0);
  });

  it('does not follow a hint from an older epoch than its ring, and retries its owner', async () => {
    const served: { ring?: Ring } = {};
    const decoy = await node({ ring: () => served.ring!.toJSON() });
    const owner = await node({
      ring: () => served.ring!.toJSON(),
      refuse: (name, attempt) => (attempt === 1 ? hint(name, decoy, 4) : undefined),
    });
    served.ring = await createRing({ epoch: 5, nodes: [{ id: 'owner', url: owner.url }] });
    const smart = client([decoy.url]);
    const handle = await smart.open('doc-c');
    await handle.whenSynced();
    expect(handle.nodeId).toBe('owner');
    expect(owner.connects).toEqual(['doc-c', 'doc-c']);
    expect(decoy.connects).toEqual([]);
  });

  it('retries a refused document on a fresh socket when other documents keep the node socket open', async () => {
    // A 3.4 server never accepts a document again on a socket where it refused it.
    const served: { ring?: Ring } = {};
    const owner = await node({
      ring: () => served.ring!.toJSON(),
      refuse: (name, attempt) => (name === 'doc-g' && attempt === 1 ? hint(name, owner, 4) : undefined),
    });
    served.ring = await createRing({ epoch: 5, nodes: [{ id: 'owner', url: owner.url }] });
    const smart = client([owner.url]);
    const keeper = await smart.open('keeper');
    await keeper.whenSynced();
    const first = smart.sockets.get('owner');
    const handle = await smart.open('doc-g');
    await handle.whenSynced();
    expect(owner.connects).toEqual(['keeper', 'doc-g', 'doc-g']);
    expect(smart.sockets.get('owner')).not.toBe(first); // the fresh socket is now the node's socket
    expect(keeper.isSynced).toBe(true);
    keeper.close();
    await until(() => owner.sockets() === 1, 'the first socket to close with its last document');
  });

  it('refetches the ring after a refusal without a hint and goes to the owner it names', async () => {
    const owner = await node({});
    // The first ring request gets epoch 1 (everything on `first`), later ones epoch 2 (everything on `owner`).
    const rings: Ring[] = [];
    const first = await node({ ring: () => (rings.length > 1 ? rings.pop()! : rings[0]!).toJSON(), refuse: () => MISROUTED_REASON });
    rings.push(await createRing({ epoch: 2, nodes: [{ id: 'owner', url: owner.url }] }));
    rings.push(await createRing({ epoch: 1, nodes: [{ id: 'first', url: first.url }] }));
    const smart = client([first.url]);
    const handle = await smart.open('doc-d');
    expect(handle.nodeId).toBe('first');
    await handle.whenSynced();
    expect(handle.nodeId).toBe('owner');
    expect(smart.ring?.epoch).toBe(2);
    expect(first.connects).toEqual(['doc-d']);
  });

  it("passes the application's own refusals to its callbacks and does not move", async () => {
    const guarded = await node({ refuse: () => 'permission-denied' });
    const smart = client([guarded.url]);
    const reasons: string[] = [];
    const handle = await smart.open('doc-e', { onAuthenticationFailed: ({ reason }) => reasons.push(reason) });
    await until(() => reasons.length === 1, 'the refusal');
    expect(reasons).toEqual(['permission-denied']);
    expect(handle.nodeUrl).toBe(guarded.url);
    expect(guarded.connects).toEqual(['doc-e']);
  });

  it('keeps one socket per node for all its documents and closes it with the last one', async () => {
    const only = await node({});
    const smart = client([only.url]);
    const first = await smart.open('doc-f1');
    const second = await smart.open('doc-f2');
    await Promise.all([first.whenSynced(), second.whenSynced()]);
    expect(smart.sockets.size).toBe(1);
    expect(only.sockets()).toBe(1);
    await expect(smart.open('doc-f1')).rejects.toThrow(/^documentName: "doc-f1" is already open/);
    first.close();
    expect(smart.sockets.size).toBe(1);
    second.close();
    expect(smart.sockets.size).toBe(0);
    await until(() => only.sockets() === 0, 'the socket to close on the server');
  });
});
