import { LIFECYCLE_DETECTION, storeLifecycleSuite } from '../membership/conformance-lifecycle.js';
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

const lifecycle = (url: string) => (cluster: string) => redisBackend({ redis: url, cluster, ...LIFECYCLE_DETECTION }).backend;

// The failover is a restart of the one server.
storeLifecycleSuite('Redis standalone', async () => {
  const server = new SpawnedRedis(await freePort());
  await server.start();
  return {
    connect: lifecycle(server.url),
    unstarted: async () => {
      const later = new SpawnedRedis(await freePort());
      return { address: `127.0.0.1:${later.port}`, connect: lifecycle(later.url), start: () => later.start(), stop: () => later.kill() };
    },
    failover: async () => {
      await server.kill();
      return { recovered: () => server.start(), restore: async () => {} };
    },
    close: () => server.kill(),
  };
});
