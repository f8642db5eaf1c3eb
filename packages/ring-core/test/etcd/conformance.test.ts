import { etcdBackend } from '../../src/etcd/membership.js';
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
