import { describe, it } from 'vitest';
import { EDGE_KEY, edgeScenario } from '../../ring-core/test/edge/scenario.js';
import { freePort, startNode } from './helpers.js';

// Real nginx and HAProxy in front of real Fastify nodes (the scenario is shared with Express: ring-core/test/edge).
describe.each(['nginx', 'haproxy'] as const)('%s in front of Fastify with its strategy and a generated config', (edge) => {
  it('delivers 10,000 keyed requests to their owners, then stops misrouting within one reload after a join', async () => {
    await edgeScenario(edge, async (id, member) => {
      const port = await freePort();
      const spec = { id, url: `http://127.0.0.1:${port}` };
      const node = await startNode(spec, port, member(spec), { key: EDGE_KEY, misroute: 'refuse' });
      return { stop: () => node.app.close() };
    });
  }, 120_000); // 13,000 requests through the proxy and the nodes of this one process: minutes on a busy machine
});
