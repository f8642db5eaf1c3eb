// Runs the collaborative editor cluster. Two ways:
//  - locally (default): 3 Hocuspocus nodes in this process on PORT, PORT+1, PORT+2 (default 1234; PORT=0 picks
//    free ports), sharing an in-process membership, and an in-process document store (DATABASE_URL: PostgreSQL).
//  - one node per process (Kubernetes, see deploy/): NODE_ID set; joins through REDIS_URL, persists to DATABASE_URL.
import { createServer } from 'node:net';
import { MemoryBus, MemoryMembership } from '@ringroute/ring-core';
import { buildEditorAssets } from './editor-page.js';
import { startEditorNode, type EditorNode } from './node.js';
import { memoryStore, postgresStore } from './store.js';

const CLUSTER = 'hocuspocus-example';
const port = Number(process.env.PORT ?? 1234);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number (got ${process.env.PORT})`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}

const nodeId = process.env.NODE_ID;
if (nodeId && !process.env.DATABASE_URL) throw new Error('DATABASE_URL is required when NODE_ID is set: nodes in separate processes must share a store');
if (nodeId && !process.env.REDIS_URL) throw new Error('REDIS_URL is required when NODE_ID is set (one node per process)');
const store = process.env.DATABASE_URL ? await postgresStore(process.env.DATABASE_URL) : memoryStore();
const assets = await buildEditorAssets();
const redis = process.env.REDIS_URL ? { redis: process.env.REDIS_URL, cluster: CLUSTER, secret: process.env.RINGROUTE_SECRET || undefined } : undefined;

const nodes: EditorNode[] = [];
if (nodeId) {
  const nodeUrl = process.env.NODE_URL ?? `ws://127.0.0.1:${port}`;
  nodes.push(await startEditorNode({ host: process.env.HOST ?? '0.0.0.0', port, store, assets, smartRoute: { nodeId, nodeUrl, ...redis } }));
  console.log(`${nodeId} listening on port ${port}, reachable as ${nodeUrl}`);
} else {
  const bus = new MemoryBus();
  for (let i = 0; i < 3; i++) {
    const id = `node-${i + 1}`;
    const nodePort = port === 0 ? await freePort() : port + i;
    const url = `ws://127.0.0.1:${nodePort}`;
    const membership = redis ? undefined : new MemoryMembership({ bus, self: { id, url } });
    nodes.push(await startEditorNode({ host: '127.0.0.1', port: nodePort, store, assets, smartRoute: { nodeId: id, ...(membership ? { membership } : redis) } }));
    console.log(`${id} http://127.0.0.1:${nodePort}`);
  }
  console.log(`editor cluster ready: 3 Hocuspocus nodes, ${redis ? 'Redis' : 'in-process'} membership, ${store.kind}
open http://127.0.0.1:${nodes[0]!.port}/?doc=welcome in two browser windows (any node serves the page)`);
}

const shutdown = async () => {
  // Each node hands its documents over (stored and confirmed) and leaves before its server closes.
  for (const node of nodes) await node.stop();
  await store.close();
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
