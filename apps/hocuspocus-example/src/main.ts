// Runs the collaborative editor cluster: 3 local Hocuspocus nodes (default ports 1234..1236), or one node per
// process with NODE_ID (see the README and deploy/). Documents go to an in-process store, or to PostgreSQL with
// DATABASE_URL (required with NODE_ID).
import { randomBytes } from 'node:crypto';
import { launchExample } from '@ringroute/example-kit';
import { buildEditorAssets } from './editor-page.js';
import { startEditorNode } from './node.js';
import { memoryStore, postgresStore } from './store.js';

if (process.env.NODE_ID && !process.env.DATABASE_URL)
  throw new Error('DATABASE_URL is required when NODE_ID is set: nodes in separate processes must share a store');
if (process.env.NODE_ID && !process.env.RINGROUTE_SECRET)
  throw new Error('RINGROUTE_SECRET is required when NODE_ID is set: it signs the relay links between node processes');
// The local nodes share this process, so any secret they all know will do.
const secret = process.env.RINGROUTE_SECRET || randomBytes(16).toString('hex');
const store = process.env.DATABASE_URL ? await postgresStore(process.env.DATABASE_URL) : memoryStore();
const assets = await buildEditorAssets();

await launchExample({
  cluster: 'hocuspocus-example',
  defaultPort: 1234,
  scheme: 'ws',
  // SmartRoute builds its own Redis membership from the same options.
  start: async ({ id, host, port, url, redis, membership }) =>
    startEditorNode({
      host,
      port,
      store,
      assets,
      smartRoute: { nodeId: id, nodeUrl: url, ...(redis ?? { membership: await membership() }), secret },
    }),
  async stop(nodes) {
    // Each node hands its documents over (stored and confirmed) and leaves before its server closes.
    for (const node of nodes) await node.stop();
    await store.close();
  },
  ready: ({ port, membership }) => `editor cluster ready: 3 Hocuspocus nodes, ${membership} membership, ${store.kind}
open http://127.0.0.1:${port}/?doc=welcome in two browser windows (any node serves the page)`,
});
