import { createRing, type Ring } from '@ringroute/ring-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RedirectHint } from '../../src/hint/index.js';
import { backoffDelay, decideMove, ownerTarget, toHttpUrl, toWebSocketUrl } from '../../src/client/routing.js';

const backoff = { delay: 100, factor: 2, maxDelay: 1000 };
let ring: Ring;

beforeAll(async () => {
  ring = await createRing({
    epoch: 5,
    nodes: [
      { id: 'node-1', url: 'http://127.0.0.1:8001' },
      { id: 'node-2', url: 'ws://127.0.0.1:8002' },
      { id: 'node-3', url: 'https://collab-3.example.com' },
    ],
  });
});

/** A document the ring gives to `nodeId`, and a hint naming another node for it. */
function documentOwnedBy(nodeId: string): string {
  for (let i = 0; ; i++) if (ring.owner(`doc-${i}`)?.id === nodeId) return `doc-${i}`;
}

function hintFor(documentName: string, ownerId: string, epoch: number): RedirectHint {
  return { documentName, ownerId, ownerUrl: `ws://${ownerId}.test:9000`, epoch, hops: 1 };
}

describe('URL schemes', () => {
  it('maps http(s) node URLs to ws(s) for sockets and back for the ring request', () => {
    expect(toWebSocketUrl('http://127.0.0.1:8001')).toBe('ws://127.0.0.1:8001');
    expect(toWebSocketUrl('https://a.example.com/collab')).toBe('wss://a.example.com/collab');
    expect(toWebSocketUrl('wss://a.example.com')).toBe('wss://a.example.com');
    expect(toHttpUrl('ws://127.0.0.1:8001')).toBe('http://127.0.0.1:8001');
    expect(toHttpUrl('wss://a.example.com')).toBe('https://a.example.com');
  });
});

describe('ownerTarget', () => {
  it('names the ring owner of a document with its WebSocket URL', () => {
    for (const id of ['node-1', 'node-2', 'node-3']) {
      const target = ownerTarget(ring, documentOwnedBy(id));
      expect(target?.id).toBe(id);
      expect(target?.url).toBe(toWebSocketUrl(ring.node(id)!.url!));
    }
  });

  it('follows pins and skips nodes that cannot own keys', async () => {
    const name = documentOwnedBy('node-1');
    expect(ownerTarget(ring.with({ pins: { [name]: 'node-3' } }), name)?.id).toBe('node-3');
    expect(ownerTarget(ring.with({ update: [{ id: 'node-1', status: 'dead' }] }), name)?.id).not.toBe('node-1');
  });

  it('is undefined when no routable node has a URL', async () => {
    const bare = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }] });
    expect(ownerTarget(bare, 'doc')).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('makes the first move at once, then grows by the factor up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((move) => backoffDelay(move, backoff))).toEqual([0, 100, 200, 400, 800, 1000]);
  });
});

describe('decideMove', () => {
  const base = { ring: undefined as Ring | undefined, hops: 0, maxHops: 3, backoff };

  it('follows a hint from the same epoch at once', () => {
    const name = documentOwnedBy('node-1');
    const decision = decideMove({ ...base, ring, documentName: name, hint: hintFor(name, 'node-1', 5) });
    expect(decision).toEqual({
      action: 'move',
      target: { id: 'node-1', url: 'ws://node-1.test:9000' },
      hops: 1,
      delay: 0,
      refreshRing: false,
    });
  });

  it('follows a hint from a newer epoch and asks for the newer ring', () => {
    const name = documentOwnedBy('node-1');
    const decision = decideMove({ ...base, ring, documentName: name, hint: hintFor(name, 'node-4', 6) });
    expect(decision).toMatchObject({ action: 'move', target: { id: 'node-4' }, refreshRing: true });
  });

  it('does not let a hint from an older epoch override the newer ring', () => {
    const name = documentOwnedBy('node-2');
    const decision = decideMove({ ...base, ring, documentName: name, hint: hintFor(name, 'node-3', 4) });
    expect(decision).toMatchObject({ action: 'move', target: { id: 'node-2', url: 'ws://127.0.0.1:8002' }, refreshRing: false });
  });

  it('follows any hint when it has no ring yet, and fetches one', () => {
    const decision = decideMove({ ...base, documentName: 'doc', hint: hintFor('doc', 'node-9', 0) });
    expect(decision).toMatchObject({ action: 'move', target: { id: 'node-9' }, refreshRing: true });
  });

  it('goes to the ring owner after a refusal without a hint', () => {
    const name = documentOwnedBy('node-3');
    const decision = decideMove({ ...base, ring, documentName: name, hint: undefined });
    expect(decision).toMatchObject({ action: 'move', target: { id: 'node-3', url: 'wss://collab-3.example.com' }, refreshRing: false });
  });

  it('gives up with no-owner when there is neither a hint nor a ring owner', () => {
    expect(decideMove({ ...base, documentName: 'doc', hint: undefined })).toEqual({ action: 'give-up', hops: 0, reason: 'no-owner' });
  });

  it('counts hops, backs off between moves and gives up after maxHops', () => {
    const name = documentOwnedBy('node-1');
    const hint = hintFor(name, 'node-1', 5);
    const decisions = [0, 1, 2, 3].map((hops) => decideMove({ ...base, ring, documentName: name, hint, hops }));
    expect(decisions.map((d) => d.action)).toEqual(['move', 'move', 'move', 'give-up']);
    expect(decisions.map((d) => d.hops)).toEqual([1, 2, 3, 3]);
    expect(decisions.map((d) => (d.action === 'move' ? d.delay : undefined))).toEqual([0, 100, 200, undefined]);
    expect(decisions[3]).toMatchObject({ reason: 'max-hops' });
  });

  it('never moves with maxHops 0', () => {
    const name = documentOwnedBy('node-1');
    expect(decideMove({ ...base, maxHops: 0, ring, documentName: name, hint: hintFor(name, 'node-1', 5) })).toMatchObject({
      action: 'give-up',
      reason: 'max-hops',
    });
  });
});
