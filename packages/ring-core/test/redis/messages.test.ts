import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterMessage, DropReason, Membership } from '@ringroute/ring-core';
import { RedisMembership, type RedisMembershipOptions } from '@ringroute/ring-core/redis';
import { REDIS_URL, testRedis } from './harness.js';

const SECRET = 'messages-test-secret';
const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const envelope = (body: unknown, secret?: string) => {
  const text = JSON.stringify(body);
  return JSON.stringify(secret === undefined ? { body: text } : { body: text, sig: sign(text, secret) });
};

/** Resolves once the predicate holds for every member's ring. */
async function until(members: Membership[], predicate: (m: Membership) => boolean): Promise<void> {
  while (!members.every(predicate)) await new Promise((r) => setTimeout(r, 5));
}

describe('RedisMembership messages', () => {
  const redis = testRedis();
  const { cluster } = redis;
  const started: Membership[] = [];
  const member = (options: Partial<RedisMembershipOptions> & { cluster: string }) => {
    const m = new RedisMembership({ redis: REDIS_URL, syncInterval: 100, ...options });
    started.push(m);
    return m;
  };

  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });

  it('spoofed, unsigned, malformed, wrong-schema, oversized and other-cluster messages are dropped and counted, never applied', async () => {
    const name = cluster('drops');
    const a = member({ cluster: name, secret: SECRET, self: { id: 'a' }, maxMessageBytes: 4096 });
    await a.start();
    const checksum = a.ring.checksum;
    const seen: DropReason[] = [];
    a.on('dropped', (reason) => seen.push(reason));
    const channel = (a as RedisMembership).channel;
    const evil = { v: 1, cluster: name, kind: 'change', sender: 'evil', seq: a.stats().epoch + 1, change: { add: [{ id: 'intruder' }] } };

    const raw: [DropReason, string][] = [
      ['signature', envelope(evil, 'wrong-secret')],
      ['signature', JSON.stringify({ body: JSON.stringify(evil), sig: 'zz' })],
      ['unsigned', envelope(evil)],
      ['malformed', '{"body": not json'],
      ['malformed', JSON.stringify({ nobody: 1 })],
      ['malformed', JSON.stringify({ body: 'not json either', sig: sign('not json either') })],
      ['schema', envelope({ ...evil, change: { add: 'intruder' } }, SECRET)],
      ['schema', envelope({ ...evil, kind: 'takeover' }, SECRET)],
      ['schema', envelope({ ...evil, v: 2 }, SECRET)],
      ['cluster', envelope({ ...evil, cluster: 'another-cluster' }, SECRET)],
      ['oversized', envelope({ ...evil, change: { add: [{ id: 'x', meta: { pad: 'x'.repeat(5000) } }] } }, SECRET)],
      ['invalid-change', envelope({ ...evil, change: { add: [{ id: 'a' }] } }, SECRET)],
    ];
    for (const [, message] of raw) await redis.client.publish(channel, message);
    await until([a], (m) => Object.values(m.stats().dropped).reduce((x, y) => x + y, 0) >= raw.length);

    expect(seen).toEqual(raw.map(([reason]) => reason));
    const { dropped } = a.stats();
    for (const reason of new Set(raw.map(([r]) => r))) expect(dropped[reason]).toBe(raw.filter(([r]) => r === reason).length);
    expect(a.ring.node('intruder')).toBeUndefined();
    expect(a.ring.checksum).toBe(checksum);
    expect(a.ready).toBe(true);
  });

  it('stale and replayed changes are ignored; a change whose message was missed is healed from the snapshot', async () => {
    const name = cluster('heal');
    const [a, b] = [
      member({ cluster: name, secret: SECRET, self: { id: 'a' } }),
      member({ cluster: name, secret: SECRET, self: { id: 'b' } }),
    ];
    await Promise.all([a.start(), b.start()]);
    await until([a, b], (m) => m.ring.nodes.length === 2);
    const { channel, key } = a as RedisMembership;
    const seq = Number(await redis.client.hget(key, 'seq'));

    // A validly signed change at an already applied seq (a replay, or a reordered duplicate).
    const stale = { v: 1, cluster: name, kind: 'change', sender: 'replayer', seq, change: { add: [{ id: 'ghost' }] } };
    await redis.client.publish(channel, envelope(stale, SECRET));
    await until([a, b], (m) => m.stats().stale >= 1);
    expect(a.ring.node('ghost')).toBeUndefined();

    // The next change lands in the snapshot, but its message never reaches anyone.
    const nodes = a.ring.nodes.map(({ id, url, weight, status }) => ({ id, url, weight, status }));
    const state = { v: 1, cluster: name, seq: seq + 1, nodes: [...nodes, { id: 'ghost' }], pins: {}, members: ['a', 'b'] };
    await redis.client.hset(key, 'seq', String(seq + 1), 'state', envelope(state, SECRET));
    await until([a, b], (m) => m.ring.node('ghost') !== undefined);
    expect(a.ring.checksum).toBe(b.ring.checksum);
    expect(a.stats().resyncs).toBeGreaterThan(1);
  });

  it("a tampered snapshot is logged loudly and rebuilt from the members' own state: rings are kept and a new member joins", async () => {
    const name = cluster('snapshot');
    const logged: { details: object; message: string }[] = [];
    const logger = { error: (details: object, message: string) => logged.push({ details, message }) };
    const a = member({ cluster: name, secret: SECRET, self: { id: 'a' }, logger });
    await a.start();
    const key = (a as RedisMembership).key;
    const checksum = a.ring.checksum;
    const state = JSON.stringify({ v: 1, cluster: name, seq: 99, nodes: [{ id: 'intruder' }], pins: {}, members: [] });
    await redis.client.hset(key, 'seq', '99', 'state', envelope(JSON.parse(state), 'wrong-secret'));
    // A newcomer starts on the tampered snapshot at once: it joins on the rebuilt one instead of failing.
    const b = member({ cluster: name, secret: SECRET, self: { id: 'b' }, logger });
    await b.start();
    await until([a, b], (m) => m.ring.nodes.length === 2 && m.ring.checksum === a.ring.checksum);

    expect(a.stats().dropped.signature).toBeGreaterThan(0);
    expect(a.ring.node('intruder')).toBeUndefined();
    expect(b.ring.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    expect(a.ring.checksum).not.toBe(checksum); // b joined
    expect(Number(await redis.client.hget(key, 'seq'))).toBeGreaterThan(99);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.some(({ message }) => /snapshot refused; rebuilding it/.test(message))).toBe(true);
    for (const { details } of logged)
      expect(details).toMatchObject({ seq: 99, err: expect.objectContaining({ message: expect.stringMatching(/refused \(signature/) }) });
  });

  it('members share pins and admin changes; broadcast reaches the others, not the sender', async () => {
    const name = cluster('share');
    const [a, b, observer] = [
      member({ cluster: name, secret: SECRET, self: { id: 'a', url: 'http://127.0.0.1:1/' } }),
      member({ cluster: name, secret: SECRET, self: { id: 'b', url: 'http://127.0.0.1:2/' } }),
      member({ cluster: name, secret: SECRET }),
    ];
    await Promise.all([a.start(), b.start(), observer.start()]);
    await until([a, b, observer], (m) => m.ring.nodes.length === 2);
    await a.pin('doc-1', 'b');
    await b.update('a', { weight: 2 });
    await until([a, b, observer], (m) => m.ring.pins['doc-1'] === 'b' && m.ring.node('a')!.weight === 2);
    expect(new Set([a, b, observer].map((m) => m.ring.checksum)).size).toBe(1);
    expect(observer.ring.owner('doc-1')!.id).toBe('b');

    const got: Record<string, ClusterMessage[]> = { a: [], b: [], observer: [] };
    a.on('message', (m) => got.a!.push(m));
    b.on('message', (m) => got.b!.push(m));
    observer.on('message', (m) => got.observer!.push(m));
    await a.broadcast('release', { doc: 'doc-1' });
    await until([b, observer], (m) => m.stats().messages === 1);
    expect(got.b).toEqual([{ type: 'release', data: { doc: 'doc-1' }, from: 'a' }]);
    expect(got.observer).toEqual(got.b);
    expect(got.a).toEqual([]);
    await expect(a.broadcast('big', 'x'.repeat(70_000))).rejects.toThrow(/maxMessageBytes/);

    // Pins live in the snapshot: a member that starts later sees them.
    const late = member({ cluster: name, secret: SECRET });
    await late.start();
    expect(late.ring.pins).toEqual({ 'doc-1': 'b' });
  });

  it('accepts an existing ioredis client, subscribes on its duplicate and leaves it open on stop', async () => {
    const name = cluster('client');
    const client = new Redis(REDIS_URL);
    try {
      const a = member({ cluster: name, redis: client, self: { id: 'a' } });
      const b = member({ cluster: name, redis: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }, self: { id: 'b' } });
      await Promise.all([a.start(), b.start()]);
      await until([a, b], (m) => m.ring.nodes.length === 2);
      await a.stop();
      await until([b], (m) => m.ring.nodes.length === 1);
      expect(await client.ping()).toBe('PONG');
      expect(client.listenerCount('close')).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('rejects invalid options naming them', () => {
    const ok = { redis: REDIS_URL, cluster: 'c' };
    expect(() => new RedisMembership({ ...ok, redis: 'localhost:6379' })).toThrow(/^redis/);
    expect(() => new RedisMembership({ ...ok, redis: 42 as never })).toThrow(/^redis/);
    expect(() => new RedisMembership({ ...ok, cluster: '' })).toThrow(/^cluster/);
    expect(() => new RedisMembership({ ...ok, syncInterval: 0 })).toThrow(/^syncInterval/);
    expect(() => new RedisMembership({ ...ok, syncInterval: 100, failureTimeout: 150 })).toThrow(/^failureTimeout/);
    expect(() => new RedisMembership({ ...ok, secret: '' })).toThrow(/^secret/);
    expect(() => new RedisMembership({ ...ok, maxMessageBytes: 10 })).toThrow(/^maxMessageBytes/);
    // retention below 3 x failureTimeout would let a running cluster's snapshot expire between beats
    expect(() => new RedisMembership({ ...ok, failureTimeout: 5000, retention: 14_999 })).toThrow(/^retention/);
    expect(() => new RedisMembership({ ...ok, self: { id: 'a', weight: -1 } })).toThrow(/^self\.weight/);
    expect(() => new RedisMembership({ ...ok, hash: 'md5' as never })).toThrow(/^hash/);
  });
});
