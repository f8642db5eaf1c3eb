import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { RedisClusterProcesses } from './topologies.js';

const servers = new RedisClusterProcesses();
let killed: number | undefined;

// The outage kills the master holding the cluster's hash slot; a replica takes over, the old master returns as a replica.
membershipBackendSuite('Redis Cluster', async () => {
  await servers.start();
  const detection = { syncInterval: 100, failureTimeout: 400 };
  return {
    detection,
    connect: (cluster, { secret }) => redisBackend({ redis: { nodes: servers.nodes }, cluster, secret, ...detection }).backend,
    outage: {
      kill: async (cluster) => {
        killed = await servers.killMasterOf(`{ringroute:${cluster}}`);
      },
      restart: () => servers.restart(killed!),
    },
    close: () => servers.stop(),
  };
});
