import { MemoryBus } from '@ringroute/ring-core';
import { membershipBackendSuite } from './conformance.js';

// One bus per cluster name stands for one store holding several clusters. The bus neither signs nor goes away, and its
// members share this process: a crash is simulated (silence) instead of a kill -9.
membershipBackendSuite(
  'memory',
  async () => {
    const buses = new Map<string, MemoryBus>();
    return {
      detection: { syncInterval: 50, heartbeatInterval: 50, failureTimeout: 200 },
      connect: (cluster) => {
        if (!buses.has(cluster)) buses.set(cluster, new MemoryBus());
        return buses.get(cluster)!.connect();
      },
    };
  },
  { groups: ['silence'] },
);
