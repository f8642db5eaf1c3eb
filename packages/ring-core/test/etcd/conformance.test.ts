import { etcdBackend } from '../../src/etcd/membership.js';
import { LIFECYCLE_DETECTION, storeLifecycleSuite } from '../membership/conformance-lifecycle.js';
import { membershipBackendSuite } from '../membership/conformance.js';
import { SpawnedEtcd } from './harness.js';

// An etcd of its own (fresh data directory), so the outage check can kill -9 it and restart it on the same data.
membershipBackendSuite(
  'etcd',
  async () => {
    const server = new SpawnedEtcd();
    await server.start();
    const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 1000 };
    return {
      detection,
      connect: (cluster, { secret }) => etcdBackend({ etcd: server.url, cluster, secret, ...detection }).backend,
      memberProcess: { etcd: server.url },
      outage: { kill: () => server.kill(), restart: () => server.start() },
      close: () => server.destroy(),
    };
  },
  { groups: ['signed', 'crash', 'outage'] },
);

const lifecycle = (url: string) => (cluster: string) => etcdBackend({ etcd: url, cluster, ...LIFECYCLE_DETECTION }).backend;

// The failover is a restart of the one member, on its data.
storeLifecycleSuite('etcd', async () => {
  const server = new SpawnedEtcd();
  await server.start();
  return {
    connect: lifecycle(server.url),
    unstarted: async () => {
      const later = new SpawnedEtcd();
      await later.reserve();
      return {
        address: later.url.replace('http://', ''),
        connect: lifecycle(later.url),
        start: () => later.start(),
        stop: () => later.destroy(),
      };
    },
    failover: async () => {
      await server.kill();
      return { recovered: () => server.start(), restore: async () => {} };
    },
    close: () => server.destroy(),
  };
});
