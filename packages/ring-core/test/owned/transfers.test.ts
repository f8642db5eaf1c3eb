import { afterEach, describe, expect, it } from 'vitest';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { Codec } from '../../src/membership/codec.js';
import { encodePush, WIRE_VERSION, type PushEntry } from '../../src/owned/frame.js';
import { PUSH_PATH, signRequest, Transport } from '../../src/owned/transport.js';
import { OwnedCluster, type OwnedNode } from './cluster.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'owned-transfers-secret';
let clusters = 0;

describe('transfers between nodes', () => {
  let cluster: OwnedCluster;
  afterEach(() => cluster?.close());

  /** Nodes with a Redis membership and a secret: transfers are signed with it. */
  function signedCluster() {
    const name = `owned-transfers-${process.pid}-${Date.now()}-${clusters++}`;
    cluster = new OwnedCluster({ maxValueBytes: 1024, maxBatchBytes: 80_000 });
    const join = (id: string): Promise<OwnedNode> =>
      cluster.start(
        id,
        (url) => new RedisMembership({ redis: REDIS_URL, cluster: name, secret: SECRET, self: { id, url }, syncInterval: 100 }),
      );
    return { join, codec: new Codec(name, SECRET, 65_536) };
  }

  const envelope = (sentAt = Date.now()) => ({ v: WIRE_VERSION, from: 'outsider', token: 0, id: `t-${Math.random()}`, sentAt });
  const entry = (key: string, value = '{"items":[]}'): PushEntry => ({
    state: 'carts',
    key,
    transfer: `x-${key}`,
    value: Buffer.from(value),
  });
  const post = async (node: OwnedNode, body: Buffer, signature?: string) => {
    const res = await fetch(node.url + PUSH_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...(signature ? { 'x-ringroute-signature': signature } : {}) },
      body: new Uint8Array(body),
    });
    return { status: res.status, body: (await res.json()) as { reason?: string } };
  };

  it('are signed with the cluster secret: a join moves every key; unsigned, forged, oversized, malformed and stale ones are refused', async () => {
    const { join, codec } = signedCluster();
    const [a] = [await join('a'), await join('b')];
    await cluster.settled(2);
    const all = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const key of all) await cluster.owner(key).carts.set(key, { items: [key] });
    await join('c');
    await cluster.settled(3);
    for (const key of all) expect(await cluster.owner(key).carts.get(key)).toEqual({ items: [key] });
    expect(cluster.nodes.get('c')!.router.handoffProgress()!.received).toBeGreaterThan(0);

    const push = encodePush(envelope(), [entry('k1')]);
    expect(await post(a!, push)).toMatchObject({ status: 401, body: { reason: 'signature' } });
    const forged = signRequest(new Codec('other', 'another-secret', 65_536), PUSH_PATH, push);
    expect(await post(a!, push, forged)).toMatchObject({ status: 401, body: { reason: 'signature' } });
    const big = encodePush(envelope(), [entry('k1', 'x'.repeat(90_000))]);
    expect(await post(a!, big, signRequest(codec, PUSH_PATH, big))).toMatchObject({ status: 413, body: { reason: 'transfer-too-large' } });
    const garbage = Buffer.from('not a transfer');
    expect(await post(a!, garbage, signRequest(codec, PUSH_PATH, garbage))).toMatchObject({ status: 400, body: { reason: 'malformed' } });
    const old = encodePush(envelope(Date.now() - 5 * 60_000), [entry('k1')]);
    expect(await post(a!, old, signRequest(codec, PUSH_PATH, old))).toMatchObject({ status: 401, body: { reason: 'stale' } });
    expect(a!.router.handoffProgress()!.received).toBe(0);
  });

  it('a receiver takes only keys it owns and does not hold yet; a retried transfer is accepted again', async () => {
    const { join, codec } = signedCluster();
    const a = await join('a');
    const b = await join('b');
    await cluster.settled(2);
    const transport = new Transport('b', '', codec, 5000);
    const ownedByA = Array.from({ length: 50 }, (_, i) => `q${i}`).filter((key) => a.membership.ring.owner(key)?.id === 'a');
    const [fresh, served, other] = [
      ownedByA[0]!,
      ownedByA[1]!,
      Array.from({ length: 50 }, (_, i) => `q${i}`).find((k) => !ownedByA.includes(k))!,
    ];
    await a.carts.set(served, { items: ['served here'] });
    try {
      const first = await transport.push(a.url, a.membership.token!, [entry(fresh, '{"items":["moved"]}'), entry(served), entry(other)]);
      expect(first.results).toEqual(['accepted', 'conflict', 'not-owner']);
      const retried = await transport.push(a.url, a.membership.token!, [entry(fresh, '{"items":["moved"]}')]);
      expect(retried.results).toEqual(['accepted']);
      const unknown = await transport.push(a.url, a.membership.token!, [{ ...entry(fresh), state: 'sessions' }]);
      expect(unknown.results).toEqual(['unknown-state']);
    } finally {
      await transport.close();
    }
    expect(await a.carts.get(fresh)).toEqual({ items: ['moved'] });
    expect(await a.carts.get(served)).toEqual({ items: ['served here'] });
    expect(b.router.handoffProgress()!.received).toBe(0);
  });
});
