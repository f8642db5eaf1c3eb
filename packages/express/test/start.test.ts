import { randomUUID } from 'node:crypto';
import { createRing } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { ringRoute, type RingRouteOptions } from '@ringroute/express';
import { describe, expect, it } from 'vitest';
import { closeServer, listen, REDIS_URL } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';

/** Express has no start-up lifecycle: apps `await rr.ready()` before they listen, as the README and the examples do. */
describe.each(EXPRESS_VERSIONS)('$name: the first requests after `await rr.ready()`, then listen', ({ express }) => {
  const start = async (options: (url: string) => RingRouteOptions) => {
    const { server, url } = await listen(); // the port is taken first: the node's URL must be known to build its options
    server.close();
    const rr = ringRoute(options(url));
    await rr.ready();
    const app = express();
    app.use(rr.monitor());
    app.use(rr);
    app.get('/doc', (req, res) => void res.json({ owner: req.ringRoute?.owner?.id }));
    const port = Number(new URL(url).port);
    const running = app.listen(port, '127.0.0.1');
    await new Promise((resolve) => running.once('listening', resolve));
    return { url, rr, close: async () => (await closeServer(running), await rr.close()) };
  };

  it('are routed with a static node list', async () => {
    const node = await start((url) => ({
      nodes: [
        { id: 'a', url },
        { id: 'b', url: 'http://127.0.0.1:1' },
      ],
      self: 'a',
      key: 'query:key',
      misroute: 'refuse',
    }));
    try {
      const res = await fetch(`${node.url}/doc?key=first`);
      const owner = (await createRing({ nodes: [{ id: 'a' }, { id: 'b' }] })).owner('first')!.id;
      expect(res.status, await res.clone().text()).toBe(owner === 'a' ? 200 : 421);
    } finally {
      await node.close();
    }
  });

  it('are routed with a reachable Redis', async () => {
    const node = await start((url) => ({
      membership: new RedisMembership({ redis: REDIS_URL, cluster: `start-${randomUUID()}`, self: { id: 'a', url } }),
      key: 'query:key',
    }));
    try {
      const [doc, ready] = await Promise.all([fetch(`${node.url}/doc?key=first`), fetch(`${node.url}/ready`)]);
      expect(await doc.json()).toEqual({ owner: 'a' });
      expect(ready.status).toBe(200);
    } finally {
      await node.close();
    }
  });
});
