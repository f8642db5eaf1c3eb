/**
 * One server of the relay benchmark, in its own process so that its CPU and memory are its own: Hocuspocus 3.4
 * with SmartRoute (Redis membership, relay mode) or with @hocuspocus/extension-redis. No persistence: the
 * benchmark measures routing, not storage. Configured by RINGROUTE_BENCH_NODE (JSON); answers 'stats' over IPC.
 */
import { Redis as RedisExtension } from '@hocuspocus/extension-redis';
import { Server } from '@hocuspocus/server';
import { SmartRoute } from '@ringroute/hocuspocus';

export interface BenchNodeConfig {
  id: string;
  port: number;
  redisPort: number;
  cluster: string;
  peer: 'smartroute' | 'extension-redis';
  /** SmartRoute's answer to a client on a non-owner (default 'relay'). */
  misroute?: 'relay' | 'redirect';
}

export interface BenchNodeStats {
  /** process.cpuUsage() user + system, µs. */
  cpu: number;
  rss: number;
  documents: number;
}

const config = JSON.parse(process.env.RINGROUTE_BENCH_NODE ?? '') as BenchNodeConfig;
const extension =
  config.peer === 'smartroute'
    ? new SmartRoute({
        nodeId: config.id,
        nodePort: config.port,
        redis: `redis://127.0.0.1:${config.redisPort}`,
        cluster: config.cluster,
        secret: `${config.cluster}-secret`,
        misroute: config.misroute ?? 'relay',
      })
    : new RedisExtension({ host: '127.0.0.1', port: config.redisPort, prefix: config.cluster, identifier: config.id });
const server = new Server({ port: config.port, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions: [extension] });
await server.listen();
process.send?.({ ready: true });
process.on('message', (message: string) => {
  if (message === 'stats') {
    const { user, system } = process.cpuUsage();
    process.send?.({
      cpu: user + system,
      rss: process.memoryUsage().rss,
      documents: server.hocuspocus.documents.size,
    } satisfies BenchNodeStats);
  }
});
process.on('disconnect', () => process.exit(0));
