import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { LIFECYCLE_DETECTION, storeLifecycleSuite } from '../membership/conformance-lifecycle.js';
import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { RedisClusterProcesses } from './topologies.js';

const servers = new RedisClusterProcesses();
const SYNC_INTERVAL = 100;
/** Pub/sub delivers at once to a subscribed member; the bound only stops a lost message from hanging the test. */
const DELIVERY_MS = 20 * SYNC_INTERVAL;

/** How many sharded subscriptions the Redis node on `port` holds for `channel`. */
async function shardSubscribers(port: number, channel: string): Promise<number> {
  const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    await node.connect();
    const [, count] = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return count;
  } finally {
    node.disconnect();
  }
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
let killed: number | undefined;
beforeAll(() => servers.start(), 60_000);
afterAll(() => servers.stop());

// The outage kills the master holding the cluster's hash slot; a replica takes over, the old master returns as a replica.
membershipBackendSuite(
  'Redis Cluster',
  async () => {
    const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 400 };
    return {
      detection,
      connect: (cluster, { secret }) => redisBackend({ redis: { nodes: servers.nodes }, cluster, secret, ...detection }).backend,
      memberProcess: { redis: { nodes: servers.nodes } },
      outage: {
        kill: async (cluster) => {
          killed = await servers.killMasterOf(`{ringroute:${cluster}}`);
        },
        restart: () => servers.restart(killed!),
      },
    };
  },
  { groups: ['signed', 'crash', 'outage'] },
);

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
      (id) => new RedisMembership({ redis: { nodes: servers.nodes }, cluster, self: { id }, syncInterval: SYNC_INTERVAL }),
    );
    const heard: unknown[] = [];
    b!.on('message', ({ data }) => heard.push(data));
    try {
      await Promise.all([a!.start(), b!.start()]);
      for (let round = 0; round < 2; round++) {
        const before = await servers.masterOf(a!.channel);
        await servers.failOver(a!.channel);
        const after = await servers.masterOf(a!.channel);
        expect(after).not.toBe(before);
        // Both subscriptions moved to the new master and both members are back: from here on nothing may be lost.
        // (With ioredis's shardedSubscribers nothing arrived any more: they stayed on the old master.)
        await until(
          async () => (await shardSubscribers(after, a!.channel)) === 2 && !a!.degraded && !b!.degraded,
          'both subscribers on the new master',
        );
        await a!.broadcast('after-failover', { round }); // once: a refused broadcast fails the test
        await until(async () => heard.length > round, `the broadcast of round ${round}`, DELIVERY_MS);
        expect(heard).toEqual(Array.from({ length: round + 1 }, (_, i) => ({ round: i })));
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
