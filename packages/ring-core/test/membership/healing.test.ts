import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import type { BackendHooks } from '../../src/membership/backend.js';

async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the members');
    await new Promise((r) => setTimeout(r, 1));
  }
}

const ignore: BackendHooks = { message: () => {}, dropped: () => {}, degraded: () => {}, recovered: () => {} };

/** Commits a change behind the members' backs, as a forger with store access (or a misjudging detector) would. */
async function removeBehindTheirBacks(bus: MemoryBus, id: string, reason: 'failed' | 'removed') {
  const raw = bus.connect();
  await raw.open(ignore);
  const state = (await raw.load())!;
  const seq = state.seq + 1;
  const next = { ...state, seq, nodes: state.nodes.filter((n) => n.id !== id), members: state.members.filter((m) => m !== id) };
  const committed = await raw.commit(state.seq, next, { kind: 'change', sender: 'forger', seq, change: { remove: [id], reason } });
  await raw.close();
  return { committed, incarnation: state.incarnations?.[id] };
}

describe('Membership healing (SWIM-style refute, drain)', () => {
  const started: Membership[] = [];
  const member = (bus: MemoryBus, id: string) => {
    const m = new MemoryMembership({ bus, self: { id, url: `http://127.0.0.1/${id}` } });
    started.push(m);
    return m;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });

  it.each(['failed', 'removed'] as const)(
    'a live member removed without a drain (%s) refutes it and rejoins with a higher incarnation',
    async (reason) => {
      const bus = new MemoryBus();
      const [a, b] = [member(bus, 'a'), member(bus, 'b')];
      await Promise.all([a.start(), b.start()]);
      await until(() => a.ring.nodes.length === 2 && b.ring.nodes.length === 2);
      const left: string[] = [];
      b.on('left', (node, why) => left.push(`${node.id} ${why}`));

      const { committed, incarnation } = await removeBehindTheirBacks(bus, 'b', reason);
      expect(committed).toBe(true);
      await until(
        () => left.length > 0 && a.ring.node('b') !== undefined && b.ring.node('b') !== undefined && a.ring.checksum === b.ring.checksum,
      );

      expect(left).toEqual([`b ${reason}`]);
      const state = (await bus.connect().load())!;
      expect(state.members).toEqual(['a', 'b']);
      expect(state.incarnations!.b).toBeGreaterThan(incarnation!);
    },
  );

  it('remove() drains: the node leaves every view, its own included, and stays out until a new instance starts', async () => {
    const bus = new MemoryBus();
    const [a, b] = [member(bus, 'a'), member(bus, 'b')];
    await Promise.all([a.start(), b.start()]);
    await until(() => b.ring.nodes.length === 2);

    await a.remove('b');
    await until(() => b.ring.node('b') === undefined);
    // b's changes are committed in order: a refute it queued on seeing its removal lands before this pin, and a
    // holding the pin holds whatever came before it.
    await b.pin('after-the-drain', 'a');
    await until(() => a.ring.pins['after-the-drain'] === 'a');
    expect(a.ring.node('b')).toBeUndefined();
    expect(b.ring.node('b')).toBeUndefined();
    expect(a.ring.checksum).toBe(b.ring.checksum);

    const again = member(bus, 'b');
    await again.start();
    await until(() => a.ring.node('b') !== undefined);
    expect((await bus.connect().load())!.drained).toEqual({});
  });
});
