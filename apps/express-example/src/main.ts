// Runs the cart store: 3 local nodes, or one node per process with NODE_ID (see the README and deploy/).
import type { Server } from 'node:http';
import { setTimeout } from 'node:timers/promises';
import { cartStoreReady, launchExample, readMisroute } from '@ringroute/example-kit';
import { buildCartNode, type CartNode } from './cart.js';

const misroute = readMisroute();

interface Running {
  server: Server;
  node: CartNode;
}

/**
 * Listens once the node has its first ring, so that its first requests are routed rather than answered 503. A store
 * that is away holds it 5 s at most: the node then listens anyway, /health answers and /ready says 503 until it joins.
 */
async function listen(node: CartNode, host: string, port: number): Promise<Running> {
  await Promise.race([node.ready(), setTimeout(5000)]);
  return new Promise((resolve, reject) => {
    const server = node.app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve({ server, node })));
  });
}

await launchExample({
  cluster: 'express-example',
  defaultPort: 3001,
  start: async ({ id, host, port, membership, state }) =>
    listen(buildCartNode({ id, membership: await membership(), misroute, state: await state() }), host, port),
  // Each node leaves the ring first, so the others take over its carts' keys at once.
  stop: (running) =>
    Promise.all(
      running.map(async ({ server, node }) => {
        await node.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }),
    ),
  ready: cartStoreReady(misroute),
});
