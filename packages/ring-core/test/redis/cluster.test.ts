import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { LIFECYCLE_DETECTION, storeLifecycleSuite } from '../membership/conformance-lifecycle.js';
import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { RedisClusterProcesses } from './topologies.js';

const servers = new RedisClusterProcesses();
let killed: number | undefined;
beforeAll(() => servers.start(), 60_000);
afterAll(() => servers.stop());

// The outage kills the master holding the cluster's hash slot; a replica takes over, the old master returns as a replica.
membershipBackendSuite('Redis Cluster', async () => {
  const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 400 };
  return {
    detection,
    connect: (cluster, { secret }) => redisBackend({ redis: { nodes: servers.nodes }, cluster, secret, ...detection }).backend,
    outage: {
      kill: async (cluster) => {
        killed = await servers.killMasterOf(`{ringroute:${cluster}}`);
      },
      restart: () => servers.restart(killed!),
    },
  };
});

describe('RedisMembership on a Redis Cluster', () => {
  it('takes an ioredis Cluster; key and channel share a hash slot; messages go through sharded pub/sub', async () => {
    const client = new Cluster(servers.nodes);
    const cluster = `sharded-${Date.now()}`;
    const [a, b] = ['a', 'b'].map((id) => new RedisMembership({ redis: client, cluster, self: { id }, syncInterval: 100 }));
    try {
      await Promise.all([a!.start(), b!.start()]);
      expect(a!.key).toBe(`{ringroute:${cluster}}`);
      expect(a!.channel).toBe(`{ringroute:${cluster}}:bus`);
      expect(await client.cluster('KEYSLOT', a!.channel)).toBe(await client.cluster('KEYSLOT', a!.key));
      while (b!.ring.nodes.length < 2) await new Promise((r) => setTimeout(r, 10));
      // Both subscribers listen on the master owning the slot through SSUBSCRIBE, none through SUBSCRIBE.
      const port = await servers.masterOf(a!.channel);
      const master = client.nodes('master').find((node) => node.options.port === port)!;
      expect(await master.call('PUBSUB', 'SHARDNUMSUB', a!.channel)).toEqual([a!.channel, 2]);
      for (const node of client.nodes('all')) expect(await node.call('PUBSUB', 'NUMSUB', a!.channel)).toEqual([a!.channel, 0]);
      await a!.pin('doc-1', 'b');
      while (b!.ring.pins['doc-1'] !== 'b') await new Promise((r) => setTimeout(r, 10));
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
      await client.del(`{ringroute:${cluster}}`);
      client.disconnect();
    }
  });

  it('a planned failover moves the channel slot to another master: the subscription follows it and broadcasts still arrive', async () => {
    const cluster = `failover-${Date.now()}`;
    const [a, b] = ['a', 'b'].map(
      (id) => new RedisMembership({ redis: { nodes: servers.nodes }, cluster, self: { id }, syncInterval: 100 }),
    );
    const heard: unknown[] = [];
    b!.on('message', ({ data }) => heard.push(data));
    try {
      await Promise.all([a!.start(), b!.start()]);
      for (let round = 0; round < 2; round++) {
        const before = await servers.masterOf(a!.channel);
        await servers.failOver(a!.channel);
        expect(await servers.masterOf(a!.channel)).not.toBe(before);
        // With ioredis's shardedSubscribers nothing arrived from here on: they stayed on the old master, which unsubscribed them.
        const deadline = Date.now() + 10_000;
        while (!heard.some((data) => (data as { round: number }).round === round) && Date.now() < deadline) {
          await a!.broadcast('after-failover', { round }).catch(() => {}); // refused while a's own subscriber moves
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(heard).toContainEqual({ round });
      }
      expect(b!.stats().outages).toBeGreaterThan(0); // the moves were noticed, and each one ended with a resync
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
    }
  }, 60_000);

  it('rejects cluster options it cannot use, naming them', () => {
    expect(() => new RedisMembership({ redis: { nodes: [] }, cluster: 'c' })).toThrow(/^redis\.nodes/);
    expect(() => new RedisMembership({ redis: { nodes: servers.nodes }, cluster: 'c', prefix: 'a{b}' })).toThrow(/^prefix/);
    expect(() => new RedisMembership({ redis: { nodes: servers.nodes }, cluster: '{c}' })).toThrow(/^cluster/);
  });
});

const lifecycle = (nodes: RedisClusterProcesses['nodes']) => (cluster: string) =>
  redisBackend({ redis: { nodes }, cluster, ...LIFECYCLE_DETECTION }).backend;

// A failover is a replica promoted in place of the master holding the cluster's slot; the killed master then
// returns as a replica.
storeLifecycleSuite('Redis Cluster', async () => {
  await servers.healthy();
  return {
    connect: lifecycle(servers.nodes),
    unstarted: async () => {
      const later = new RedisClusterProcesses();
      await later.reserve();
      return {
        address: `127.0.0.1:${later.nodes[0]!.port}`,
        connect: lifecycle(later.nodes),
        start: () => later.start(),
        stop: () => later.stop(),
      };
    },
    failover: async (cluster) => {
      const key = `{ringroute:${cluster}}`;
      const port = await servers.killMasterOf(key);
      return {
        recovered: () => servers.failedOver(key, port),
        restore: async () => {
          await servers.restart(port);
          await servers.healthy();
        },
      };
    },
  };
});
