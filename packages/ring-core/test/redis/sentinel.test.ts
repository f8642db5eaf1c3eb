import { afterAll, beforeAll } from 'vitest';
import { LIFECYCLE_DETECTION, storeLifecycleSuite } from '../membership/conformance-lifecycle.js';
import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { SentinelProcesses } from './topologies.js';

const servers = new SentinelProcesses();
let killed: number | undefined;
beforeAll(() => servers.start(), 60_000);
afterAll(() => servers.stop());

// The outage kills the master; the sentinels promote the replica, and the old master returns as its replica.
membershipBackendSuite(
  'Redis Sentinel',
  async () => {
    const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 400 };
    return {
      detection,
      connect: (cluster, { secret }) => redisBackend({ redis: servers.options, cluster, secret, ...detection }).backend,
      memberProcess: { redis: servers.options },
      outage: {
        kill: async () => {
          killed = await servers.killMaster();
        },
        restart: async () => {
          await servers.failedOver(killed!);
          await servers.restart(killed!);
        },
      },
    };
  },
  { groups: ['signed', 'crash', 'outage'] },
);

const lifecycle = (options: SentinelProcesses['options']) => (cluster: string) =>
  redisBackend({ redis: options, cluster, ...LIFECYCLE_DETECTION }).backend;

// A failover is the sentinels promoting the replica; the killed master then returns as its replica.
storeLifecycleSuite('Redis Sentinel', async () => {
  await servers.healthy();
  return {
    connect: lifecycle(servers.options),
    unstarted: async () => {
      const later = new SentinelProcesses();
      await later.reserve();
      return {
        address: `127.0.0.1:${later.options.sentinels[0]!.port}`,
        connect: lifecycle(later.options),
        start: () => later.start(),
        stop: () => later.stop(),
      };
    },
    failover: async () => {
      const port = await servers.killMaster();
      return {
        recovered: () => servers.failedOver(port),
        restore: async () => {
          await servers.restart(port);
          await servers.healthy();
        },
      };
    },
  };
});
