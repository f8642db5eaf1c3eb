import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { EtcdMembership, type EtcdMembershipOptions } from '@ringroute/ring-core/etcd';
import { etcdBackend } from '../../src/etcd/membership.js';
import { ChildMember } from '../fixtures/child-member.js';
import { freePort } from '../redis/harness.js';
import { SpawnedEtcd } from './harness.js';

const self = (id: string) => ({ id, url: `http://127.0.0.1/${id}` });

describe('EtcdMembership options', () => {
  const valid: EtcdMembershipOptions = { etcd: 'http://127.0.0.1:2379', cluster: 'c' };
  const cases: [string, unknown][] = [
    ['options', null],
    ['etcd', { ...valid, etcd: 42 }],
    ['etcd.hosts', { ...valid, etcd: [] }],
    ['etcd.hosts[0]', { ...valid, etcd: 'localhost:2379' }],
    ['etcd.hosts[1]', { ...valid, etcd: { hosts: ['http://a:2379', 'redis://b:6379'] } }],
    ['cluster', { ...valid, cluster: '' }],
    ['prefix', { ...valid, prefix: 7 }],
    ['syncInterval', { ...valid, syncInterval: 0 }],
    ['heartbeatInterval', { ...valid, heartbeatInterval: 5 }],
    ['failureTimeout', { ...valid, failureTimeout: 500 }],
    ['failureTimeout', { ...valid, syncInterval: 1000, failureTimeout: 1500 }],
    ['secret', { ...valid, secret: '' }],
    ['maxMessageBytes', { ...valid, maxMessageBytes: 10 }],
    ['self.id', { ...valid, self: { url: 'http://x' } }],
    ['logger', { ...valid, logger: { info() {} } }],
  ];
  it.each(cases)('refuses a bad %s at construction, naming it', (option, options) => {
    let error: unknown;
    try {
      new EtcdMembership(options as EtcdMembershipOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RingRouteConfigError);
    expect((error as RingRouteConfigError).option).toBe(option);
  });

  it('waits for an unreachable etcd in open(), until close() gives up on it', async () => {
    const { backend } = etcdBackend({ ...valid, etcd: `http://127.0.0.1:${await freePort()}` });
    const hooks = { message() {}, dropped() {}, degraded() {}, recovered() {} };
    let settled = false;
    const opening = backend.open(hooks).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    // Handled before close(): close() rejects it and then waits for etcd3 to cancel the watch.
    const abandoned = expect(opening).rejects.toThrow('membership closed before etcd was reachable');
    await backend.close();
    await abandoned;
  });

  it('stop() during a start that waits for an unreachable etcd ends both', async () => {
    const port = await freePort();
    const membership = new EtcdMembership({ ...valid, etcd: `http://127.0.0.1:${port}`, self: self('a') });
    const starting = membership.start();
    await new Promise((r) => setTimeout(r, 300));
    const reason = `waiting for etcd at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`;
    expect(membership.waiting).toBe(reason);
    const abandoned = expect(starting).rejects.toThrow(`membership stopped before it joined (${reason})`);
    await membership.stop();
    await abandoned;
    expect(membership.ready).toBe(false);
  });

  it('connects nothing before start()', () => {
    const membership = new EtcdMembership({ ...valid, etcd: 'http://127.0.0.1:9' });
    expect(membership.ready).toBe(false);
    expect(membership.root).toBe('ringroute/c/');
  });
});

describe('EtcdMembership on a real etcd', () => {
  const etcd = new SpawnedEtcd();
  let client: Etcd3;
  let n = 0;
  const cluster = () => `etcd-membership-${process.pid}-${n++}`;

  beforeAll(async () => {
    await etcd.start();
    client = new Etcd3({ hosts: etcd.url });
  });
  afterAll(async () => {
    client?.close();
    await etcd.destroy();
  });

  it('keeps the snapshot under <prefix>/<cluster>/ and leaves a client it was given open', async () => {
    const name = cluster();
    const membership = new EtcdMembership({
      etcd: client,
      cluster: name,
      prefix: 'rr-test',
      self: self('a'),
      syncInterval: 100,
      failureTimeout: 1000,
    });
    await membership.start();
    expect(membership.root).toBe(`rr-test/${name}/`);
    expect(Number(await client.get(`rr-test/${name}/seq`).string())).toBe(membership.ring.epoch);
    const snapshot = async () => JSON.parse(JSON.parse((await client.get(`rr-test/${name}/state`).string())!).body);
    expect((await snapshot()).nodes.map((node: { id: string }) => node.id)).toEqual(['a']);
    await membership.stop();
    // The client it was given still works, and the graceful leave is in the snapshot.
    expect((await snapshot()).nodes).toEqual([]);
  });

  it('drops and counts malformed, oversized and foreign messages put on the bus, and keeps its ring', async () => {
    const name = cluster();
    const membership = new EtcdMembership({ etcd: etcd.url, cluster: name, self: self('a'), maxMessageBytes: 1024 });
    const dropped: string[] = [];
    membership.on('dropped', (reason) => dropped.push(reason));
    await membership.start();
    const checksum = membership.ring.checksum;
    const bus = `ringroute/${name}/bus`;
    await client.put(bus).value('not json');
    await client.put(bus).value(JSON.stringify({ body: 'x'.repeat(2048) }));
    await client
      .put(bus)
      .value(JSON.stringify({ body: JSON.stringify({ v: 1, cluster: 'another', kind: 'app', sender: 's', type: 't' }) }));
    await client.put(bus).value(JSON.stringify({ body: JSON.stringify({ v: 1, cluster: name, kind: 'change', sender: 's', seq: 'x' }) }));
    await expect.poll(() => dropped.length).toBe(4);
    expect(dropped).toEqual(['malformed', 'oversized', 'cluster', 'schema']);
    expect(membership.stats().dropped).toMatchObject({ malformed: 1, oversized: 1, cluster: 1, schema: 1 });
    expect(membership.ring.checksum).toBe(checksum);
    await membership.stop();
  });
  it("puts each member's heartbeat under a lease of failureTimeout: revoked on stop, expired after a kill -9", async () => {
    const name = cluster();
    const options = { etcd: etcd.url, cluster: name, syncInterval: 100, failureTimeout: 2000 };
    const beat = async (id: string) => (await client.get(`ringroute/${name}/beat/${id}`).exec()).kvs;
    const crashing = new ChildMember('a', options);
    const leaving = new EtcdMembership({ ...options, self: self('b') });
    await Promise.all([crashing.waitFor((event) => event.event === 'started'), leaving.start()]);
    await expect.poll(async () => (await beat('a')).length).toBe(1);
    await expect.poll(async () => (await beat('b')).length).toBe(1);
    const { grantedTTL } = await client.leaseClient.leaseTimeToLive({ ID: (await beat('a'))[0]!.lease });
    expect(Number(grantedTTL)).toBe(2); // seconds

    await leaving.stop();
    expect(await beat('b')).toEqual([]); // revoked at once

    await crashing.kill();
    const killed = performance.now();
    await expect.poll(async () => (await beat('a')).length, { timeout: 6000, interval: 50 }).toBe(0);
    expect(performance.now() - killed).toBeGreaterThan(1000); // the lease outlived the process by about its TTL
  });

  it('rebuilds a snapshot that fails to verify, logging it, so that a new member can still join', async () => {
    const name = cluster();
    const options = { etcd: etcd.url, cluster: name, secret: 'etcd-secret', syncInterval: 100, failureTimeout: 1000 };
    const errors: string[] = [];
    const logger = { error: (_details: object, message: string) => errors.push(message) };
    const a = new EtcdMembership({ ...options, self: self('a'), logger });
    await a.start();
    const state = `ringroute/${name}/state`;
    const tampered = (await client.get(state).string())!.replace('"body":"{', '"body":"{ ');
    await client.put(state).value(tampered);
    const b = new EtcdMembership({ ...options, self: self('b'), logger });
    await b.start();
    await expect.poll(() => [a, b].every((m) => m.ring.nodes.length === 2), { timeout: 5000 }).toBe(true);
    expect(errors.some((message) => message.includes('snapshot refused'))).toBe(true);
    expect(await client.get(state).string()).not.toBe(tampered);
    await Promise.all([a.stop(), b.stop()]);
  });
});
