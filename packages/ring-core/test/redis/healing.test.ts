import { afterEach, describe, expect, it } from 'vitest';
import type { Membership } from '@ringroute/ring-core';
import { RedisMembership, type RedisMembershipOptions } from '@ringroute/ring-core/redis';
import { REDIS_URL, testRedis } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timing = { syncInterval: 100, failureTimeout: 400 };

async function until(members: Membership[], predicate: (m: Membership) => boolean, what = 'the members to agree'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!members.every(predicate)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The snapshot as stored (no secret: the body is plain JSON). */
async function stored(client: ReturnType<typeof testRedis>['client'], key: string) {
  const text = await client.hget(key, 'state');
  return JSON.parse((JSON.parse(text!) as { body: string }).body) as {
    seq: number;
    nodes: { id: string }[];
    members: string[];
    incarnations: Record<string, number>;
    drained: Record<string, number>;
  };
}

describe('RedisMembership heals itself', () => {
  const redis = testRedis();
  const started: Membership[] = [];
  const member = (options: Partial<RedisMembershipOptions> & { cluster: string }) => {
    const m = new RedisMembership({ redis: REDIS_URL, ...timing, ...options });
    started.push(m);
    return m;
  };

  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });

  it('without a secret, a forged remove of a live node (snapshot and message) is refuted: the node comes back everywhere with a higher incarnation', async () => {
    const name = redis.cluster('forged');
    const [a, b] = [member({ cluster: name, self: { id: 'a' } }), member({ cluster: name, self: { id: 'b' } })];
    await Promise.all([a.start(), b.start()]);
    await until([a, b], (m) => m.ring.nodes.length === 2);
    const { key, channel } = a;
    const before = await stored(redis.client, key);
    const left: string[] = [];
    for (const [who, m] of [
      ['a', a],
      ['b', b],
    ] as const)
      m.on('left', (node, reason) => left.push(`${who} saw ${node.id} ${reason}`));

    // What anyone with Redis access can do: rewrite the snapshot without b, and announce it as a change.
    const seq = before.seq + 1;
    const forged = { ...before, v: 1, cluster: name, seq, nodes: before.nodes.filter((n) => n.id !== 'b'), members: ['a'] };
    const change = { v: 1, cluster: name, kind: 'change', sender: 'forger', seq, change: { remove: ['b'] } };
    await redis.client.hset(key, 'seq', String(seq), 'state', JSON.stringify({ body: JSON.stringify(forged) }));
    await redis.client.publish(channel, JSON.stringify({ body: JSON.stringify(change) }));

    // b learns it from the message or from its periodic snapshot check, whichever comes first.
    await until([a, b], () => left.some((l) => l.startsWith('b saw b ')), 'b to learn of its removal');
    await until([a, b], (m) => m.ring.node('b') !== undefined && m.ring.checksum === a.ring.checksum, 'b back everywhere');
    const after = await stored(redis.client, key);

    expect(left.some((l) => l.startsWith('a saw b '))).toBe(true);
    expect(after.members).toEqual(['a', 'b']);
    expect(after.incarnations.b).toBeGreaterThan(before.incarnations.b!);
    expect(after.incarnations.a).toBe(before.incarnations.a);
    // Still watched: b keeps beating, nobody suspects it.
    await sleep(3 * timing.failureTimeout);
    expect(a.ring.node('b')?.status).toBe('alive');
    expect(b.ring.node('b')?.status).toBe('alive');
  });

  it('an operator drain removes the node in every view, its own included, until a new instance starts', async () => {
    const name = redis.cluster('drain');
    const [a, b] = [member({ cluster: name, self: { id: 'a' } }), member({ cluster: name, self: { id: 'b' } })];
    await Promise.all([a.start(), b.start()]);
    await until([a, b], (m) => m.ring.nodes.length === 2);
    const leftInOwnView: string[] = [];
    b.on('left', (node, reason) => node.id === 'b' && leftInOwnView.push(reason));

    await a.remove('b');
    await until([a, b], (m) => m.ring.node('b') === undefined);
    const beatsAtDrain = b.stats().heartbeatsSent;
    // Several failure timeouts later the drained node has neither rejoined nor been re-added, and stopped beating.
    await sleep(3 * timing.failureTimeout);
    expect(a.ring.node('b')).toBeUndefined();
    expect(b.ring.node('b')).toBeUndefined();
    expect(a.ring.checksum).toBe(b.ring.checksum);
    expect(leftInOwnView).toEqual(['removed']);
    expect(b.stats().heartbeatsSent).toBeLessThanOrEqual(beatsAtDrain + 1);
    expect((await stored(redis.client, a.key)).drained).toHaveProperty('b');

    // The operator starts b again: a new instance rejoins and clears the drain.
    const b2 = member({ cluster: name, self: { id: 'b' } });
    await b2.start();
    await until([a, b2], (m) => m.ring.node('b') !== undefined);
    expect((await stored(redis.client, a.key)).drained).not.toHaveProperty('b');
  });
  it('a snapshot that went back in time (a promoted replica that missed the last writes) is rebuilt, never applied: nobody leaves', async () => {
    const name = redis.cluster('rollback');
    const [a, b] = [member({ cluster: name, self: { id: 'a' } }), member({ cluster: name, self: { id: 'b' } })];
    await a.start();
    const { key } = a;
    const old = await redis.client.hgetall(key); // only a: what a replica that stopped replicating here would hold
    await b.start();
    await until([a, b], (m) => m.ring.nodes.length === 2);
    const left: string[] = [];
    for (const [who, m] of [
      ['a', a],
      ['b', b],
    ] as const)
      m.on('left', (node, reason) => left.push(`${who} saw ${node.id} ${reason}`));

    await redis.client.hset(key, old);
    // The periodic seq check notices the store disagrees; the members rebuild the snapshot from their own ring.
    while ((await stored(redis.client, key)).seq <= Number(old.seq)) await sleep(20);
    const after = await stored(redis.client, key);
    expect(after.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    await sleep(3 * timing.syncInterval);
    expect(left).toEqual([]);
    expect(a.ring.checksum).toBe(b.ring.checksum);
    expect(a.ring.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
  });
});
