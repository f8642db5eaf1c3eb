import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('the fencing token (membership.token)', () => {
  const started: Membership[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });
  const run = async (membership: Membership) => {
    started.push(membership);
    await membership.start();
    return membership;
  };

  it('is the same on every member for the same ring and grows with every change', async () => {
    const bus = new MemoryBus();
    const a = await run(new MemoryMembership({ bus, self: { id: 'a' } }));
    const first = a.token!;
    const b = await run(new MemoryMembership({ bus, self: { id: 'b' } }));
    await expect.poll(() => a.ring.nodes.length).toBe(2);
    expect(a.token).toBe(b.token);
    expect(a.token).toBe(first + 1);
    await a.pin('k', 'b');
    await expect.poll(() => b.ring.pins.k).toBe('b');
    expect(b.token).toBe(first + 2);
  });

  it('keeps growing across a whole-cluster restart after the snapshot expired (its generation comes from the clock)', async () => {
    const cluster = `token-${process.pid}-${Date.now()}`;
    const member = (id: string) => new RedisMembership({ redis: REDIS_URL, cluster, self: { id }, syncInterval: 100 });
    const a = await run(member('a'));
    await run(member('b'));
    await a.pin('k', 'a');
    const before = a.token!;
    expect(before).toBeGreaterThan(Date.now() - 60_000); // generation + seq: not a small counter
    await Promise.all(started.splice(0).map((m) => m.stop()));
    const redis = new Redis(REDIS_URL);
    try {
      await redis.del(`ringroute:${cluster}`); // the retention expired: the next start begins at seq 0
    } finally {
      redis.disconnect();
    }
    const again = await run(member('a'));
    expect(again.token).toBeGreaterThan(before);
  });
});
