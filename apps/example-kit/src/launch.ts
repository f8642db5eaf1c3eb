import { createServer } from 'node:net';
import { MemoryBus, MemoryMembership, type Membership, type NodeSpec } from '@ringroute/ring-core';
import type { OwnedStateOptions } from '@ringroute/ring-core/owned';
import { readEnv, type RedisEnv } from './env.js';
import { readState } from './persist.js';

/** One node to start: where it listens, the URL others reach it at, and how it joins the cluster. */
export interface NodeSlot {
  id: string;
  host: string;
  port: number;
  url: string;
  /** True for the one node of a process started with NODE_ID (as deployed); false for the 3 local nodes. */
  deployed: boolean;
  /** The Redis membership's options with REDIS_URL (for libraries that build their own, like SmartRoute). */
  redis: RedisEnv | undefined;
  /** Its membership: Redis with REDIS_URL, otherwise in-process, shared by the local nodes. */
  membership(): Promise<Membership>;
  /** Its owned state's options: with PERSIST, a durable copy of its own (see persist.ts). */
  state(): Promise<OwnedStateOptions | undefined>;
}

export interface LocalCluster {
  /** The first node's port. */
  port: number;
  membership: 'Redis' | 'in-process';
}

export interface LaunchOptions<N> {
  /** Cluster name in Redis. */
  cluster: string;
  /** The first node's port when PORT is unset. */
  defaultPort: number;
  /** Scheme of the node URLs: 'ws' for Hocuspocus. Default 'http'. */
  scheme?: 'http' | 'ws';
  start(slot: NodeSlot): Promise<N>;
  /** On SIGINT / SIGTERM, before the process exits: each node should leave the ring so others take its keys at once. */
  stop(nodes: N[]): Promise<unknown>;
  /** Printed once the 3 local nodes run: how to try them. */
  ready(cluster: LocalCluster): string;
}

/**
 * Runs an example the two ways its README describes:
 *  - locally (default): 3 nodes in this process on PORT, PORT+1, PORT+2 (PORT=0 picks free ports), each printed
 *    as `<id> http://127.0.0.1:<port>`, sharing an in-process membership, or a Redis one with REDIS_URL;
 *    SIGUSR2 adds one more local node (on the next port, or a free one);
 *  - one node per process (Kubernetes, see deploy/): NODE_ID set; joins the cluster through REDIS_URL.
 */
export async function launchExample<N>(options: LaunchOptions<N>): Promise<N[]> {
  const { port, nodeId, nodeUrl, host, redis, timing } = readEnv(options.cluster, options.defaultPort);
  const scheme = options.scheme ?? 'http';
  const bus = new MemoryBus();
  const join = async (self: NodeSpec): Promise<Membership> => {
    if (!redis) return new MemoryMembership({ bus, self });
    // Loaded only when asked for: the in-process default needs neither Redis nor ioredis.
    const { RedisMembership } = await import('@ringroute/ring-core/redis');
    return new RedisMembership({ ...redis, ...timing, self });
  };
  const slot = (id: string, listenHost: string, listenPort: number, url: string, deployed: boolean): NodeSlot => ({
    id,
    host: listenHost,
    port: listenPort,
    url,
    deployed,
    redis,
    membership: () => join({ id, url }),
    state: () => readState(redis?.cluster ?? options.cluster),
  });

  const nodes: N[] = [];
  if (nodeId) {
    const url = nodeUrl ?? `${scheme}://127.0.0.1:${port}`;
    nodes.push(await options.start(slot(nodeId, host, port, url, true)));
    console.log(`${nodeId} listening on port ${port}, reachable as ${url}`);
  } else {
    let added = 0;
    const addLocalNode = async () => {
      const index = added++; // taken before any await, so two quick SIGUSR2s get distinct ids and ports
      const id = `node-${index + 1}`;
      const nodePort = port === 0 ? await freePort() : port + index;
      nodes.push(await options.start(slot(id, '127.0.0.1', nodePort, `${scheme}://127.0.0.1:${nodePort}`, false)));
      console.log(`${id} http://127.0.0.1:${nodePort}`);
      return nodePort;
    };
    const firstPort = await addLocalNode();
    for (let i = 1; i < 3; i++) await addLocalNode();
    console.log(options.ready({ port: firstPort, membership: redis ? 'Redis' : 'in-process' }));
    // `kill -USR2 <pid>` starts one more local node (node-4, node-5, …): a way to watch keys move to a joining node.
    process.on('SIGUSR2', () => void addLocalNode().catch((error: unknown) => console.error(`could not add a node: ${String(error)}`)));
  }

  // Ctrl-C reaches every process of the terminal's group (pnpm and this one): later signals are absorbed while the
  // nodes leave, and the exit is an explicit 0, so that pnpm reports no failure.
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    options.stop(nodes).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`the nodes did not stop cleanly: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  return nodes;
}

/** A port nobody listens on right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
