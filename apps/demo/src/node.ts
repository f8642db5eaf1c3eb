import Fastify, { type FastifyInstance } from 'fastify';
import { ringRoute } from '@ringroute/fastify';
import type { Membership, MisroutePolicy } from '@ringroute/ring-core';
import type { HandoffProgress, KeyCustody } from '@ringroute/ring-core/owned';

export interface DemoNodeOptions {
  id: string;
  host: string;
  port: number;
  membership: Membership;
  misroute: MisroutePolicy;
}

/** One node of the demo cluster: a tiny keyed counter service behind the RingRoute Fastify plugin. */
export interface DemoNode {
  readonly id: string;
  readonly url: string;
  readonly port: number;
  /** Graceful: the plugin leaves the cluster as the server closes. */
  stop(): Promise<void>;
  /** A crash: connections cut and the server gone, without leaving the cluster. */
  kill(): Promise<void>;
  /** Where a key's state is from this node's point of view (owned here, moving away, on its way here, elsewhere). */
  custody(key: string): Promise<KeyCustody>;
  /** What this node has handed over and taken over so far. */
  handoff(): HandoffProgress | undefined;
}

export const nodeUrl = (host: string, port: number) => `http://${host}:${port}`;

export async function startDemoNode(options: DemoNodeOptions): Promise<DemoNode> {
  const { id, host, port, membership, misroute } = options;
  const app: FastifyInstance = Fastify();
  // readyTimeout 0: the node listens at once and its /ready says what it waits for (the dashboard shows it).
  await app.register(ringRoute, { membership, self: id, key: 'params:key', misroute, leaveOnClose: true, readyTimeout: 0 });
  // Owned state: each key's hit counter lives on its owner only (which is why requests must reach the owner), and
  // moves with the key when a node joins, is drained or removed.
  const hits = app.ringRoute.state<number>('hits');
  app.get<{ Params: { key: string } }>('/kv/:key', async (request, reply) => {
    const count = await hits.update(request.params.key, (n = 0) => n + 1);
    reply.header('x-served-by', id);
    return { key: request.params.key, node: id, hits: count };
  });
  // The counter without counting this read (the dashboard's view of a tracked key).
  app.get<{ Params: { key: string } }>('/peek/:key', async (request) => ({ node: id, hits: (await hits.get(request.params.key)) ?? 0 }));
  await app.listen({ host, port });

  return {
    id,
    url: nodeUrl(host, port),
    port,
    stop: () => app.close(),
    kill: async () => {
      app.server.closeAllConnections();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
    },
    custody: (key) => app.ringRoute.router.owned().describe(key),
    handoff: () => app.ringRoute.router.handoffProgress(),
  };
}
