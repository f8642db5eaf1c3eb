// Runs the cart store: 3 local nodes, or one node per process with NODE_ID (see the README and deploy/).
import { cartStoreReady, launchExample, readMisroute } from '@ringroute/example-kit';
import { buildCartNode } from './cart.js';

const misroute = readMisroute();

await launchExample({
  cluster: 'fastify-example',
  defaultPort: 3001,
  async start({ id, host, port, deployed, membership, state }) {
    const app = await buildCartNode({ id, membership: await membership(), misroute, state: await state(), logger: deployed });
    await app.listen({ host, port });
    return app;
  },
  // Closing each app makes its node leave the ring, so the others take over its carts' keys at once.
  stop: (apps) => Promise.all(apps.map((app) => app.close())),
  ready: cartStoreReady(misroute),
});
