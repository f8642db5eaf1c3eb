/**
 * One server of the Hocuspocus benchmarks, in its own process so that its CPU and memory are its own: Hocuspocus
 * 3.4 with SmartRoute (Redis membership, relay mode) or with @hocuspocus/extension-redis. No persistence, except a
 * read-only store for one seeded document when `seed` is set: the benchmarks measure routing, not storage.
 * Configured by RINGROUTE_BENCH_NODE (JSON); answers `{ type: 'stats' }` over IPC (see bench/support/nodes.ts).
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Database } from '@hocuspocus/extension-database';
import { Redis as RedisExtension } from '@hocuspocus/extension-redis';
import { Server, type Extension } from '@hocuspocus/server';
import { SmartRoute } from '@ringroute/hocuspocus';

export interface BenchNodeConfig {
  id: string;
  port: number;
  redisPort: number;
  cluster: string;
  peer: 'smartroute' | 'extension-redis';
  /** SmartRoute's answer to a client on a non-owner (default 'relay'). */
  misroute?: 'relay' | 'redirect';
  /** Documents named `prefix...` have the stored state (a Yjs update) in `file`: what a database would hand a node loading them. */
  seed?: { prefix: string; file: string };
}

export interface BenchNodeRequest {
  type: 'stats';
  /** Run a full garbage collection first. */
  gc?: boolean;
  /** true: sample the RSS every 10 ms and the event loop's delay from now on (both restart); false: stop. */
  watchPeak?: boolean;
}

export interface BenchNodeStats {
  /** process.cpuUsage() user + system, µs. */
  cpu: number;
  rss: number;
  heapUsed: number;
  /** The highest RSS sampled since the last `watchPeak: true` (or now). */
  peakRss: number;
  /** The longest the event loop was blocked since the last `watchPeak: true`, ms (0 when not watched). */
  maxLoopDelayMs: number;
  documents: number;
  /** Hocuspocus connections (on an owner, relayed clients count here too). */
  connections: number;
}

const config = JSON.parse(process.env.RINGROUTE_BENCH_NODE ?? '') as BenchNodeConfig;
const routing =
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
const extensions: Extension[] = [routing];
const seed = config.seed;
if (seed)
  extensions.push(
    new Database({
      fetch: async ({ documentName }) => (documentName.startsWith(seed.prefix) ? readFile(seed.file) : null),
      store: async () => {},
    }),
  );
const server = new Server({ port: config.port, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions });
await server.listen();

// A full collection on request (memory per connection is a difference of two heaps), without a Node flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let peakRss = 0;
let sampler: NodeJS.Timeout | undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage.rss()));

process.send?.({ ready: true });
process.on('message', (request: BenchNodeRequest) => {
  if (request.type !== 'stats') return;
  if (request.gc) gc();
  sample();
  const { user, system } = process.cpuUsage();
  const { rss, heapUsed } = process.memoryUsage();
  process.send?.({
    cpu: user + system,
    rss,
    heapUsed,
    peakRss,
    maxLoopDelayMs: loopDelay.max / 1e6,
    documents: server.hocuspocus.documents.size,
    connections: server.hocuspocus.getConnectionsCount(),
  } satisfies BenchNodeStats);
  if (request.watchPeak !== undefined) {
    clearInterval(sampler);
    sampler = request.watchPeak ? setInterval(sample, 10) : undefined;
    if (request.watchPeak) {
      peakRss = rss;
      loopDelay.reset();
      loopDelay.enable();
    } else loopDelay.disable();
  }
});
process.on('disconnect', () => process.exit(0));
