import express from 'express';
import { describe, it } from 'vitest';
import { ringRoute } from '@ringroute/express';
import { EDGE_KEY, edgeScenario } from '../../ring-core/test/edge/scenario.js';
import { closeServer, listen } from './helpers/cluster.js';

// Real nginx and HAProxy in front of real Express nodes (the scenario is shared with Fastify: ring-core/test/edge).
describe.each(['nginx', 'haproxy'] as const)('%s in front of Express with its strategy and a generated config', (edge) => {
  it('delivers 10,000 keyed requests to their owners, then stops misrouting within one reload after a join', async () => {
    await edgeScenario(edge, async (id, member) => {
      const { server, url } = await listen();
      const rr = ringRoute({ membership: member({ id, url }), key: EDGE_KEY, misroute: 'refuse' });
      // A lean app (no monitor routes, no header echo): the client, the nodes and the test share one thread.
      const app = express();
      app.use(rr);
      app.get('/doc', (_req, res) => {
        res.json({ node: id });
      });
      server.on('request', app);
      await rr.ready();
      return {
        stop: async () => {
          await closeServer(server);
          await rr.close();
        },
      };
    });
  }, 120_000); // 13,000 requests through the proxy and the nodes of this one process: minutes on a busy machine
});
