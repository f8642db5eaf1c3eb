import { afterEach, describe, expect, it } from 'vitest';
import { ChildMember, converged, REDIS_URL, testRedis } from './harness.js';

/** retention: the snapshot's time to live past the last heartbeat or commit (its least: 3 x failureTimeout). */
const timing = { syncInterval: 100, failureTimeout: 400, retention: 1200 };
const KEEP = timing.retention;
/**
 * How late this process may notice a key Redis expired: it polls every 10 ms, but on a busy 2-core machine a poll can
 * wait for the CPU far longer. Redis expires a key to the millisecond (EXISTS expires a due key on access).
 */
const NOTICED_WITHIN = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("RedisMembership: a cluster's keys do not outlive it", () => {
  const redis = testRedis();
  const members: ChildMember[] = [];
  const member = (id: string, cluster: string) => {
    const child = new ChildMember(id, { redis: REDIS_URL, cluster, ...timing });
    members.push(child);
    return child;
  };
  /** Every key under the cluster's prefix (SCAN skips expired ones). */
  const keysOf = async (cluster: string) => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.client.scan(cursor, 'MATCH', `ringroute:${cluster}*`, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  };
  /** Polls until the keys are gone; returns when (Date.now()). EXISTS expires a due key on access. */
  const goneAt = async (keys: string[]) => {
    while ((await redis.client.exists(...keys)) > 0) await sleep(10);
    return Date.now();
  };
  /** Polls until every member has written its heartbeat key. */
  const beaten = async (cluster: string, ids: string[]) => {
    const beats = ids.map((id) => `ringroute:${cluster}:beat:${id}`);
    while ((await redis.client.exists(...beats)) < beats.length) await sleep(10);
  };

  afterEach(async () => {
    await Promise.all(members.splice(0).map((m) => m.kill()));
  });

  it('kill -9 of every member: the snapshot and heartbeats are gone within `retention`', async () => {
    const cluster = redis.cluster('expiry-kill');
    const group = ['x1', 'x2'].map((id) => member(id, cluster));
    await converged(group, (ring) => ring.nodes?.length === 2);
    await beaten(cluster, ['x1', 'x2']);
    const keys = await keysOf(cluster);
    expect(keys).toEqual([`ringroute:${cluster}`, `ringroute:${cluster}:beat:x1`, `ringroute:${cluster}:beat:x2`]);

    const killedAt = Date.now();
    await Promise.all(group.map((m) => m.kill()));
    // Every key was last written before the kill, with a time to live of at most `retention`.
    expect((await goneAt(keys)) - killedAt).toBeLessThanOrEqual(KEEP + NOTICED_WITHIN);
    expect(await keysOf(cluster)).toEqual([]);
  });

  it('graceful stop of the last member: its leave renews the snapshot once, then everything expires', async () => {
    const cluster = redis.cluster('expiry-stop');
    const last = member('s1', cluster);
    await last.waitFor((e) => e.event === 'started');
    await beaten(cluster, ['s1']);
    const keys = await keysOf(cluster);
    expect(keys).toEqual([`ringroute:${cluster}`, `ringroute:${cluster}:beat:s1`]);

    const stopping = Date.now();
    await last.stop(); // resolves once the process exited, after its leave
    const stopped = Date.now();
    const gone = await goneAt(keys);
    // The leave is a commit after `stopping`: the snapshot lives `retention` from then on (a renewal by the last
    // heartbeat alone, before `stopping`, would end sooner), and nothing renews it after the process is gone.
    expect(gone - stopping).toBeGreaterThanOrEqual(KEEP);
    expect(gone - stopped).toBeLessThanOrEqual(KEEP + NOTICED_WITHIN);
  });

  it('one member running for many times the time to live keeps the keys, their TTL never above it', async () => {
    const cluster = redis.cluster('expiry-alive');
    const alone = member('a1', cluster);
    await alone.waitFor((e) => e.event === 'started');
    await beaten(cluster, ['a1']);
    const key = `ringroute:${cluster}`;
    const until = Date.now() + 3 * KEEP;
    while (Date.now() < until) {
      const [ttl, beat] = await Promise.all([redis.client.pttl(key), redis.client.exists(`${key}:beat:a1`)]);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(KEEP);
      expect(beat).toBe(1);
      await sleep(25);
    }
  });

  it('a member paused past the time to live rebuilds the expired snapshot from its own ring', async () => {
    const cluster = redis.cluster('expiry-pause');
    const group = ['p1', 'p2'].map((id) => member(id, cluster));
    const [before] = await converged(group, (ring) => ring.nodes?.length === 2);
    const key = `ringroute:${cluster}`;
    const mark = group.map((m) => m.events.length);

    group.forEach((m) => m.pause());
    await goneAt([key]);
    group.forEach((m) => m.resume());

    while ((await redis.client.exists(key)) === 0) await sleep(10);
    const state = JSON.parse((JSON.parse((await redis.client.hget(key, 'state'))!) as { body: string }).body) as { members: string[] };
    expect(state.members.sort()).toEqual(['p1', 'p2']);
    await sleep(3 * timing.failureTimeout); // failure detection runs again: nobody was evicted
    for (const [i, m] of group.entries()) {
      expect(m.events.slice(mark[i]).filter((e) => e.event === 'left')).toEqual([]);
      expect(m.ring!.checksum).toBe(before!.checksum);
      expect(m.ring!.nodes).toEqual(['p1:alive', 'p2:alive']);
    }
    expect(await redis.client.pttl(key)).toBeGreaterThan(0);
  });
});
