import { membershipBackendSuite } from '../membership/conformance.js';
import { redisBackend } from '../../src/redis/membership.js';
import { freePort, SpawnedRedis } from './server.js';

// A redis-server of its own, so the outage check can kill and restart it.
membershipBackendSuite(
  'Redis standalone',
  async () => {
    const server = new SpawnedRedis(await freePort());
    await server.start();
    const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 400 };
    return {
      detection,
      connect: (cluster, { secret }) => redisBackend({ redis: server.url, cluster, secret, ...detection }).backend,
      memberProcess: { redis: server.url },
      outage: { kill: () => server.kill(), restart: () => server.start() },
      close: () => server.kill(),
    };
  },
  { groups: ['signed', 'crash', 'outage'] },
);
