import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropReason, Membership } from '@ringroute/ring-core';
import { RedisMembership, type RedisMembershipOptions } from '@ringroute/ring-core/redis';
import { ChildMember, REDIS_URL, testRedis } from './harness.js';

const SECRET = 'replay-test-secret';
const timing = { syncInterval: 100, failureTimeout: 400 };
/** How far a sender's clock may be off (shared.ts CLOCK_SKEW): a heartbeat older than failureTimeout + this is stale. */
const CLOCK_SKEW = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await sleep(5);
}

/** The heartbeat record `node` keeps in Redis (`<key>:beat:<node>`), as stored, once there is one. */
async function captureHeartbeat(client: Redis, key: string, node: string): Promise<{ text: string; sentAt: number }> {
  for (;;) {
    const text = await client.get(`${key}:beat:${node}`);
    if (text !== null) {
      const envelope = JSON.parse(text) as { body: string; sig?: string };
      if (envelope.sig) return { text, sentAt: (JSON.parse(envelope.body) as { sentAt: number }).sentAt };
    }
    await sleep(5);
  }
}

describe('RedisMembership heartbeat replays', () => {
  const redis = testRedis();
  const started: Membership[] = [];
  const children: ChildMember[] = [];
  const member = (options: Partial<RedisMembershipOptions> & { cluster: string }) => {
    const m = new RedisMembership({ redis: REDIS_URL, secret: SECRET, ...timing, ...options });
    started.push(m);
    return m;
  };

  afterEach(async () => {
    await Promise.all([...children.splice(0).map((c) => c.kill()), ...started.splice(0).map((m) => m.stop())]);
  });

  it('a SIGKILLed member whose captured heartbeat is republished is still suspected, then removed; replays are counted', async () => {
    const name = redis.cluster('replay');
    const survivor = member({ cluster: name, self: { id: 'survivor' } });
    await survivor.start();
    const victim = new ChildMember('victim', { redis: REDIS_URL, cluster: name, secret: SECRET, ...timing });
    children.push(victim);
    const captured = await captureHeartbeat(redis.client, survivor.key, 'victim');
    await until(() => survivor.ring.node('victim')?.status === 'alive');
    await until(() => survivor.stats().heartbeatsReceived >= 2); // the survivor has read beats newer than the captured one

    const drops: [DropReason, string][] = [];
    survivor.on('dropped', (reason, detail) => drops.push([reason, detail]));
    const seen: { suspected?: number; left?: number; reason?: string } = {};
    survivor.on('status', (node, _from, to) => {
      if (node.id === 'victim' && to === 'suspected') seen.suspected ??= Date.now();
    });
    survivor.on('left', (node, reason) => {
      if (node.id === 'victim') [seen.left, seen.reason] = [Date.now(), reason];
    });

    // Suspected after one failureTimeout of silence and removed after two, replays notwithstanding (plus ticks and
    // a loaded machine's scheduling); a replay that counted as a heartbeat would keep it alive indefinitely.
    const removalBound = 2 * timing.failureTimeout + 2000;
    await victim.kill();
    const killedAt = Date.now();
    let replays = 0;
    let lastReplay = 0;
    while (seen.left === undefined && Date.now() - killedAt < removalBound) {
      await redis.client.set(`${survivor.key}:beat:victim`, captured.text, 'PX', 10_000);
      replays++;
      lastReplay = Date.now();
      await sleep(timing.syncInterval / 2); // twice as often as the real heartbeats came
    }

    expect(seen.reason).toBe('failed');
    expect(seen.left! - killedAt).toBeLessThan(removalBound);
    expect(seen.suspected).toBeDefined();
    expect(seen.suspected!).toBeLessThanOrEqual(seen.left!);
    // The captured record was being written back all along: after the suspicion, up to the removal.
    expect(replays).toBeGreaterThan(2);
    expect(lastReplay).toBeGreaterThan(seen.suspected!);
    // The record put back is refused once; reading the same record again is neither news nor another replay.
    expect(survivor.stats().dropped.replayed).toBe(1);
    expect(drops).toHaveLength(1);
    for (const [reason, detail] of drops) {
      expect(reason).toBe('replayed');
      expect(detail).toMatch(/^heartbeat of victim: beat \d+, already heard \d+$/);
    }
    expect(survivor.ring.node('victim')).toBeUndefined();
  });

  it('a captured heartbeat sent longer ago than failureTimeout is dropped by a member that never heard it', async () => {
    const name = redis.cluster('stale');
    const old = new ChildMember('old', { redis: REDIS_URL, cluster: name, secret: SECRET, ...timing });
    children.push(old);
    const key = `ringroute:${name}`;
    const { text, sentAt } = await captureHeartbeat(redis.client, key, 'old');
    await old.kill(); // still a member: nobody is left to notice
    await until(() => Date.now() - sentAt > timing.failureTimeout + CLOCK_SKEW);

    const fresh = member({ cluster: name, self: { id: 'fresh' } }); // has never read `old`'s beats, but watches it
    const drops: [DropReason, string][] = [];
    fresh.on('dropped', (reason, detail) => drops.push([reason, detail]));
    await fresh.start();
    expect(fresh.ring.node('old')).toBeDefined();
    const heartbeatsBefore = fresh.stats().heartbeatsReceived;
    await redis.client.set(`${key}:beat:old`, text, 'PX', 10_000);
    await until(() => drops.length === 1);

    expect(drops[0]![0]).toBe('replayed');
    expect(drops[0]![1]).toMatch(/^heartbeat of old: sent \d+ ms ago$/);
    expect(fresh.stats().dropped.replayed).toBe(1);
    expect(fresh.stats().heartbeatsReceived).toBe(heartbeatsBefore);
  });
});
