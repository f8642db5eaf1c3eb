import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryBus } from '@ringroute/ring-core';
import type { BackendHooks } from '../../src/membership/backend.js';
import { OwnedCluster, until } from './cluster.js';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `cart-${i}`);

/** Every key on its owner, with the value written (plus `extra` items for some keys), and held nowhere else. */
async function expectIntact(cluster: OwnedCluster, all: string[], extra: Map<string, string[]> = new Map()): Promise<void> {
  for (const key of all) expect(await cluster.owner(key).carts.get(key)).toEqual({ items: [key, ...(extra.get(key) ?? [])] });
  expect(cluster.held()).toBe(all.length);
}

/** Nodes a, b and c, settled, holding `count` carts (each with one item: its key). */
async function threeNodes(cluster: OwnedCluster, count: number): Promise<string[]> {
  for (const id of ['a', 'b', 'c']) await cluster.start(id);
  await cluster.settled(3);
  const all = keys(count);
  for (const key of all) await cluster.owner(key).carts.set(key, { items: [key] });
  return all;
}

/** Commits a removal behind the members' backs, as failure detection would (MemoryMembership has none). */
async function declareFailed(bus: MemoryBus, id: string): Promise<void> {
  const ignore: BackendHooks = { message: () => {}, dropped: () => {}, degraded: () => {}, recovered: () => {} };
  const raw = bus.connect();
  await raw.open(ignore);
  const state = (await raw.load())!;
  const seq = state.seq + 1;
  const next = { ...state, seq, nodes: state.nodes.filter((n) => n.id !== id), members: state.members.filter((m) => m !== id) };
  await raw.commit(state.seq, next, { kind: 'change', sender: 'detector', seq, change: { remove: [id], reason: 'failed' } });
  await raw.close();
}

describe('owned state hands keys over on planned ring changes', () => {
  let cluster: OwnedCluster;
  afterEach(() => cluster?.close());

  it('a joining node takes the keys it now owns, pushed in the background; every value arrives once and intact', async () => {
    cluster = new OwnedCluster();
    await threeNodes(cluster, 600);

    const d = await cluster.start('d');
    await cluster.settled(4);
    const moved = keys(600).filter((key) => cluster.owner(key).id === 'd');
    expect(moved.length).toBeGreaterThan(60);
    await expectIntact(cluster, keys(600));
    const progress = d.router.handoffProgress()!;
    expect(progress.received).toBe(moved.length);
    expect(progress.held.carts).toBe(moved.length);
    const done = ['a', 'b', 'c'].reduce((sum, id) => sum + cluster.nodes.get(id)!.router.handoffProgress()!.done, 0);
    expect(done).toBe(moved.length);
  });

  it('a request for a key still on its way pulls it first (it jumps the queue) and its write is kept', async () => {
    // One key per transfer, one transfer at a time: the background handoff takes hundreds of round trips.
    cluster = new OwnedCluster({ batchSize: 1, maxConcurrentTransfers: 1 });
    const all = await threeNodes(cluster, 1500);

    const d = await cluster.start('d');
    const moved = all.filter((key) => d.membership.ring.owner(key)?.id === 'd');
    const asked = moved.slice(-20); // queued last on their old owners
    const during = await Promise.all(asked.map((key) => d.carts.update(key, (cart) => ({ items: [...(cart?.items ?? []), 'during'] }))));
    expect(during).toEqual(asked.map((key) => ({ items: [key, 'during'] })));
    expect(d.router.handoffProgress()!.pulled).toBeGreaterThan(0);

    await cluster.settled(4);
    await expectIntact(cluster, all, new Map(asked.map((key) => [key, ['during']])));
  });

  it('a node that leaves (close) hands every key over first; a rolling restart of every node keeps them all', async () => {
    cluster = new OwnedCluster();
    const all = await threeNodes(cluster, 400);

    const held = cluster.nodes.get('b')!.router.handoffProgress()!.held.carts!;
    await cluster.stop('b');
    await cluster.settled(2);
    await expectIntact(cluster, all);

    await cluster.start('b');
    await cluster.settled(3);
    expect(cluster.nodes.get('b')!.router.handoffProgress()!.held.carts).toBe(held);
    for (const id of ['a', 'b', 'c']) {
      await cluster.stop(id);
      await cluster.start(id);
      await cluster.settled(3);
    }
    await expectIntact(cluster, all);
  });

  it('when every node stops at once (the whole cluster), close() does not wait for an heir that never comes', async () => {
    cluster = new OwnedCluster({ leaveTimeout: 60_000 });
    await threeNodes(cluster, 100);
    const started = Date.now();
    await Promise.all(['a', 'b', 'c'].map((id) => cluster.stop(id)));
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a node an operator drains (removed while running) pushes what it held; its keys are pulled from it meanwhile', async () => {
    cluster = new OwnedCluster({ batchSize: 1, maxConcurrentTransfers: 1 });
    const all = await threeNodes(cluster, 900);
    const b = cluster.nodes.get('b')!;
    const fromB = all.filter((key) => b.membership.ring.owner(key)?.id === 'b');

    await cluster.nodes.get('a')!.membership.remove('b');
    await until(() => b.membership.ring.node('b') === undefined, 'b removed');
    // Read through the new owners right away: keys still on b are pulled from it.
    const [last] = fromB.slice(-1);
    expect(await cluster.owner(last!).carts.get(last!)).toEqual({ items: [last] });
    await until(() => b.router.handoffProgress()!.held.carts === 0, 'b empty');
    cluster.nodes.delete('b');
    await cluster.settled(2);
    await expectIntact(cluster, all);
    await b.router.close();
    await new Promise((resolve) => b.server.close(resolve));
  });

  it('a drained node that is gone before it pushed is asked once (connection refused) and not waited for', async () => {
    cluster = new OwnedCluster({ importTimeout: 60_000 });
    const all = await threeNodes(cluster, 300);
    const b = cluster.nodes.get('b')!;
    const fromB = all.filter((key) => b.membership.ring.owner(key)?.id === 'b');
    // b stops taking and sending transfers and its server goes away, then an operator drains it.
    await b.router.owned().close(false);
    await new Promise((resolve) => b.server.close(resolve));
    cluster.nodes.delete('b');
    await cluster.nodes.get('a')!.membership.remove('b');
    await until(() => [...cluster.nodes.values()].every((n) => !n.membership.ring.node('b')), 'b removed');
    // Its carts are gone with it (never pushed); reading one does not wait for the importTimeout.
    const started = Date.now();
    expect(await cluster.owner(fromB[0]!).carts.get(fromB[0]!)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(30_000);
    await b.membership.stop();
  });

  it('a node declared failed drops what it held (never sends it back) and takes its keys back empty when it rejoins', async () => {
    cluster = new OwnedCluster();
    const all = await threeNodes(cluster, 300);
    const b = cluster.nodes.get('b')!;
    const held = b.router.handoffProgress()!.held.carts!;
    const dropped: string[] = [];
    b.router.owned().on('dropped', ({ key, reason }) => reason === 'fenced' && dropped.push(key));

    await declareFailed(cluster.bus, 'b');
    await until(() => dropped.length === held, 'b dropped its keys');
    expect(b.router.handoffProgress()!.done).toBe(0); // nothing was handed over
    // b refutes the verdict and rejoins; its keys come back to it, empty.
    await until(() => b.membership.ring.node('b')?.status === 'alive', 'b back');
    await cluster.settled(3);
    const lost = all.filter((key) => cluster.owner(key).id === 'b');
    expect(lost.length).toBe(held);
    for (const key of lost) expect(await b.carts.get(key)).toBeUndefined();
  });
});
