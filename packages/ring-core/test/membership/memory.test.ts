import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership, RingRouteConfigError, type ClusterMessage, type Membership, type Ring } from '@ringroute/ring-core';

/** Resolves once every member's ring satisfies the predicate (deliveries are asynchronous, like pub/sub). */
async function until(members: Membership[], predicate: (ring: Ring) => boolean): Promise<void> {
  await poll(() => members.every((m) => m.ready && predicate(m.ring)), 'the rings');
}

async function poll(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const sameChecksum = (members: Membership[]) => new Set(members.map((m) => m.ring.checksum)).size === 1;

describe('MemoryMembership', () => {
  const started: Membership[] = [];
  const member = (bus: MemoryBus, id?: string) => {
    const m = new MemoryMembership({ bus, self: id ? { id, url: `http://127.0.0.1/${id}` } : undefined });
    started.push(m);
    return m;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });

  it('members on one bus share one ring; a late joiner and an observer get the full ring', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = [member(bus, 'a'), member(bus, 'b'), member(bus, 'c')];
    await Promise.all([a.start(), b.start(), c.start()]);
    await until([a, b, c], (ring) => ring.nodes.length === 3);
    expect(sameChecksum([a, b, c])).toBe(true);
    expect(a.ring.epoch).toBe(b.ring.epoch);

    const late = member(bus, 'd');
    await late.start();
    expect(late.ring.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c', 'd']);
    const observer = member(bus);
    await observer.start();
    expect(observer.self).toBeUndefined();
    await until([a, b, c, late, observer], (ring) => ring.nodes.length === 4);
    expect(sameChecksum([a, b, c, late, observer])).toBe(true);
    for (const key of ['doc-1', 'doc-2', 'user:9']) expect(observer.ring.owner(key)!.id).toBe(a.ring.owner(key)!.id);
  });

  it('pins, updates and admin changes reach every member; events describe them', async () => {
    const bus = new MemoryBus();
    const [a, b] = [member(bus, 'a'), member(bus, 'b')];
    await Promise.all([a.start(), b.start()]);
    await until([a, b], (ring) => ring.nodes.length === 2);
    const statuses: string[] = [];
    const joined: string[] = [];
    b.on('status', (node, from, to) => statuses.push(`${node.id}:${from}->${to}`));
    b.on('joined', (node) => joined.push(node.id));

    await a.pin('doc-7', 'b');
    await a.update('a', { status: 'updating' });
    await a.add({ id: 'external', url: 'http://127.0.0.1:9/' });
    await until([a, b], (ring) => ring.pins['doc-7'] === 'b' && ring.nodes.length === 3 && ring.node('a')!.status === 'updating');
    expect(b.ring.owner('doc-7')!.id).toBe('b');
    expect(statuses).toEqual(['a:alive->updating']);
    expect(joined).toEqual(['external']);
    expect(sameChecksum([a, b])).toBe(true);

    await b.pin('doc-7', null);
    await b.remove('external');
    await until([a, b], (ring) => ring.pins['doc-7'] === undefined && ring.nodes.length === 2);
    await expect(a.remove('nope')).rejects.toThrow(RingRouteConfigError);
    await expect(a.pin('k', 'nope')).rejects.toThrow(/nodeId/);
    await expect(a.add({ id: 'b' })).rejects.toThrow(/node\.id/);
  });

  it('broadcast reaches every other member, not the sender', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = [member(bus, 'a'), member(bus, 'b'), member(bus, 'c')];
    await Promise.all([a.start(), b.start(), c.start()]);
    const got = { a: [] as ClusterMessage[], b: [] as ClusterMessage[], c: [] as ClusterMessage[] };
    for (const [id, m] of Object.entries({ a, b, c })) m.on('message', (msg) => got[id as keyof typeof got].push(msg));
    await a.broadcast('release', { doc: 'x' });
    // The bus delivers in order: once a has c's later message, it would have had its own before it.
    await poll(() => got.b.length > 0 && got.c.length > 0, 'the release at b and c');
    await c.broadcast('barrier', {});
    await poll(() => got.a.length > 0 && got.b.length > 1, 'the barrier at a and b');
    expect(got.a).toEqual([{ type: 'barrier', data: {}, from: 'c' }]);
    expect(got.b).toEqual([
      { type: 'release', data: { doc: 'x' }, from: 'a' },
      { type: 'barrier', data: {}, from: 'c' },
    ]);
    expect(got.c).toEqual([{ type: 'release', data: { doc: 'x' }, from: 'a' }]);
    expect(b.stats().messages).toBe(2);
  });

  it('graceful stop removes the node from every member at once', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = [member(bus, 'a'), member(bus, 'b'), member(bus, 'c')];
    await Promise.all([a.start(), b.start(), c.start()]);
    await until([a, b, c], (ring) => ring.nodes.length === 3);
    const left: string[] = [];
    a.on('left', (node, reason) => left.push(`${node.id}:${reason}`));
    await c.stop();
    await until([a, b], (ring) => ring.nodes.length === 2);
    expect(left).toEqual(['c:graceful']);
    expect(c.ready).toBe(false);
    expect(c.ring.node('c')).toBeUndefined(); // the last ring stays readable
    expect(sameChecksum([a, b])).toBe(true);
  });

  it('rejects invalid options naming them, and a throwing listener never breaks the ring', async () => {
    expect(() => new MemoryMembership({ self: { id: '' } })).toThrow(/self\.id/);
    expect(() => new MemoryMembership({ vnodes: 0 })).toThrow(/vnodes/);
    expect(() => new MemoryMembership({ strategy: 'nope' as never })).toThrow(/strategy/);
    expect(() => new MemoryMembership({ bus: {} as never })).toThrow(/bus/);
    const bus = new MemoryBus();
    const a = member(bus, 'a');
    a.on('ring', () => {
      throw new Error('listener bug');
    });
    // Without a logger, a listener's error becomes a process warning (never a console call, never a throw).
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await a.start();
      const b = member(bus, 'b');
      await b.start();
      await until([a, b], (ring) => ring.nodes.length === 2);
      // Warnings are emitted on a later tick.
      await poll(
        () => warnings.some((w) => w.name === 'RingRouteWarning' && w.message.includes("a 'ring' listener threw: listener bug")),
        "the listener's warning",
      );
    } finally {
      process.off('warning', onWarning);
    }
    expect(a.stats().listenerErrors).toBeGreaterThan(0);
    expect(() => a.ring).not.toThrow();
    expect(() => new MemoryMembership().ring).toThrow(/start/);
  });
});
