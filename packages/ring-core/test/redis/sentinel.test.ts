import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { SentinelProcesses } from './topologies.js';

const servers = new SentinelProcesses();
let killed: number | undefined;

// The outage kills the master; the sentinels promote the replica, and the old master returns as its replica.
membershipBackendSuite(
  'Redis Sentinel',
  async () => {
    await servers.start();
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
      close: () => servers.stop(),
    };
  },
  { groups: ['signed', 'crash', 'outage'] },
);
