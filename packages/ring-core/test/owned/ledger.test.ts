import { describe, expect, it } from 'vitest';
import { createRing, type Ring } from '@ringroute/ring-core';
import { Ledger } from '../../src/owned/ledger.js';

const nodes = ['a', 'b', 'c', 'self'].map((id) => ({ id, url: `http://${id}` }));
/** A ring of a, b, c and self where `key` is pinned to `owner`. */
const ringWith = (owner: string, others = nodes): Promise<Ring> => createRing({ nodes: others, pins: { key: owner } });

describe('Ledger: who may still hold a key', () => {
  it('asks only the nodes not settled since this node has owned the key without a break', async () => {
    const ledger = new Ledger('self', 60_000);
    ledger.observe(await ringWith('a'), 10);
    ledger.observe(await ringWith('self'), 11);
    ledger.observe(await ringWith('self'), 12);
    expect(ledger.ownedSince('key')).toBe(11);
    expect(ledger.sources('key').map((s) => s.id)).toEqual(['a', 'b', 'c']);
    ledger.settled('a', 11);
    ledger.settled('b', 12);
    ledger.settled('c', 10); // settled before this node took the key: it may have it
    expect(ledger.sources('key')).toEqual([{ id: 'c', url: 'http://c' }]);
  });

  it('a gap in the rings it saw (a reload) ends the streak: anyone may have owned the key meanwhile', async () => {
    const ledger = new Ledger('self', 60_000);
    ledger.observe(await ringWith('self'), 10);
    ledger.observe(await ringWith('self'), 14);
    expect(ledger.ownedSince('key')).toBe(14);
    ledger.settled('a', 13);
    expect(ledger.sources('key').map((s) => s.id)).toContain('a');
  });

  it('never waits for a dead member; asks a drained node until it settles or is gone', async () => {
    const ledger = new Ledger('self', 60_000);
    const dead = nodes.map((n) => (n.id === 'c' ? { ...n, status: 'dead' as const } : n));
    ledger.observe(await ringWith('self', dead), 5);
    expect(ledger.sources('key').map((s) => s.id)).toEqual(['a', 'b']);

    const drained = await ringWith(
      'self',
      dead.filter((n) => n.id !== 'b'),
    );
    ledger.observe(drained, 6);
    ledger.left({ ...drained.node('a')!, id: 'b', url: 'http://b' }, 'removed');
    expect(ledger.sources('key').map((s) => s.id)).toEqual(['a', 'b']);
    ledger.settled('b', 6);
    expect(ledger.sources('key').map((s) => s.id)).toEqual(['a']);
    ledger.forget('a', true); // keeps no owned state at all
    expect(ledger.sources('key')).toEqual([]);
  });

  it('remembers crashed owners: their keys were lost; a push they send from before the failure is fenced', async () => {
    const ledger = new Ledger('self', 60_000);
    const before = await ringWith('b');
    ledger.observe(before, 20);
    expect(ledger.crashedOwner('key')).toBeUndefined();
    ledger.observe(
      await ringWith(
        'self',
        nodes.filter((n) => n.id !== 'b'),
      ),
      21,
    );
    ledger.left(before.node('b')!, 'failed');
    expect(ledger.crashedOwner('key')).toBe('b');
    expect(ledger.sources('key').map((s) => s.id)).not.toContain('b');
    expect(ledger.fenced('b', 20)).toBe(true);
    expect(ledger.fenced('b', 21)).toBe(false);
    ledger.joined(before.node('b')!);
    expect(ledger.crashedOwner('key')).toBeUndefined();
  });

  it('knows it is behind when another node announced a newer ring', async () => {
    const ledger = new Ledger('self', 60_000);
    ledger.observe(await ringWith('self'), 3);
    ledger.settled('a', 3);
    expect(ledger.behind).toBe(false);
    ledger.settled('b', 4);
    expect(ledger.behind).toBe(true);
  });
});
