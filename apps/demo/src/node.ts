import Fastify, { type FastifyInstance } from 'fastify';
import { ringRoute } from '@ringroute/fastify';
import type { Membership, MisroutePolicy } from '@ringroute/ring-core';

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
}

export const nodeUrl = (host: string, port: number) => `http://${host}:${port}`;

export async function startDemoNode(options: DemoNodeOptions): Promise<DemoNode> {
  const { id, host, port, membership, misroute } = options;
  const app: FastifyInstance = Fastify();
  // Keyed state: each key's hit counter lives on its owner only, which is why requests must reach the owner.
  const hits = new Map<string, number>();

  // readyTimeout 0: the node listens at once and its /ready says what it waits for (the dashboard shows it).
  await app.register(ringRoute, { membership, self: id, key: 'params:key', misroute, leaveOnClose: true, readyTimeout: 0 });
  app.get<{ Params: { key: string } }>('/kv/:key', async (request, reply) => {
    const count = (hits.get(request.params.key) ?? 0) + 1;
    hits.set(request.params.key, count);
    reply.header('x-served-by', id);
    return { key: request.params.key, node: id, hits: count };
  });
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
  };
}
