// Runs the cart store. Two ways:
//  - locally (default): 3 nodes in this process sharing an in-process membership, on PORT, PORT+1, PORT+2
//    (PORT=0 picks free ports); with REDIS_URL set they share a Redis membership instead.
//  - one node per process (Kubernetes, see deploy/): NODE_ID set; joins the cluster through REDIS_URL.
import { createServer } from 'node:net';
import { MemoryBus, MemoryMembership, type Membership, type MisroutePolicy, type NodeSpec } from '@ringroute/ring-core';
import type { Server } from 'node:http';
import { buildCartNode, type CartNode } from './cart.js';

const CLUSTER = 'express-example';
const misroute = (process.env.MISROUTE ?? 'redirect') as MisroutePolicy;
if (!['redirect', 'proxy', 'refuse'].includes(misroute)) throw new Error(`MISROUTE must be redirect, proxy or refuse (got ${misroute})`);
const port = Number(process.env.PORT ?? 3001);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number (got ${process.env.PORT})`);

async function redisMembership(self: NodeSpec): Promise<Membership> {
  const { RedisMembership } = await import('@ringroute/ring-core/redis');
  return new RedisMembership({ redis: process.env.REDIS_URL!, cluster: CLUSTER, self, secret: process.env.RINGROUTE_SECRET || undefined });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}

interface Running {
  server: Server;
  node: CartNode;
}

function listen(node: CartNode, host: string, at: number): Promise<Running> {
  return new Promise((resolve, reject) => {
    const server = node.app.listen(at, host, (error?: Error) => (error ? reject(error) : resolve({ server, node })));
  });
}

const running: Running[] = [];
const nodeId = process.env.NODE_ID;
if (nodeId) {
  if (!process.env.REDIS_URL) throw new Error('REDIS_URL is required when NODE_ID is set (one node per process)');
  const url = process.env.NODE_URL ?? `http://127.0.0.1:${port}`;
  const node = buildCartNode({ id: nodeId, membership: await redisMembership({ id: nodeId, url }), misroute });
  running.push(await listen(node, process.env.HOST ?? '0.0.0.0', port));
  console.log(`${nodeId} listening on port ${port}, reachable as ${url}`);
} else {
  const bus = new MemoryBus();
  for (let i = 0; i < 3; i++) {
    const id = `node-${i + 1}`;
    const nodePort = port === 0 ? await freePort() : port + i;
    const url = `http://127.0.0.1:${nodePort}`;
    const membership = process.env.REDIS_URL ? await redisMembership({ id, url }) : new MemoryMembership({ bus, self: { id, url } });
    running.push(await listen(buildCartNode({ id, membership, misroute }), '127.0.0.1', nodePort));
    console.log(`${id} ${url}`);
  }
  const first = running[0]!.server.address() as { port: number };
  console.log(`cart store ready: 3 nodes, misroute=${misroute}, ${process.env.REDIS_URL ? 'Redis' : 'in-process'} membership
try:
  curl -i http://127.0.0.1:${first.port}/route?key=alice
  curl -iL -X POST http://127.0.0.1:${first.port}/carts/alice/items -H 'content-type: application/json' -d '{"sku":"tea","qty":2}'
  curl -iL http://127.0.0.1:${first.port}/carts/alice`);
}

const shutdown = async () => {
  // Each node leaves the ring first, so the others take over its carts' keys at once.
  await Promise.all(
    running.map(async ({ server, node }) => {
      await node.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }),
  );
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
