import Fastify, { type FastifyInstance } from 'fastify';
import { ringRoute } from '@ringroute/fastify';
import type { Membership, MisroutePolicy } from '@ringroute/ring-core';

export interface CartNodeOptions {
  /** This node's id in the ring. */
  id: string;
  membership: Membership;
  /** What a node does with a request for a cart it does not own. */
  misroute: MisroutePolicy;
  logger?: boolean;
}

interface Item {
  sku: string;
  qty: number;
}

/**
 * A cart store that keeps carts in memory, on their owner node only. The RingRoute plugin makes that safe:
 * a request for a cart always ends up on the node that holds it (redirected or proxied there).
 */
export async function buildCartNode({ id, membership, misroute, logger = false }: CartNodeOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger });
  const carts = new Map<string, Item[]>();

  // Every route with a :cartId parameter is routed by it; the plugin's /health, /ready and /route are not.
  await app.register(ringRoute, { membership, self: id, key: 'params:cartId', misroute });

  // Says which node actually handled the request (a proxied answer keeps the owner's header).
  app.addHook('preHandler', async (_request, reply) => {
    reply.header('x-served-by', id);
  });

  app.get<{ Params: { cartId: string } }>('/carts/:cartId', async (request) => {
    const { cartId } = request.params;
    return { cartId, node: id, items: carts.get(cartId) ?? [] };
  });

  app.post<{ Params: { cartId: string }; Body: Item }>(
    '/carts/:cartId/items',
    {
      schema: {
        body: {
          type: 'object',
          required: ['sku'],
          properties: {
            sku: { type: 'string', minLength: 1, maxLength: 64 },
            qty: { type: 'integer', minimum: 1, maximum: 999, default: 1 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { cartId } = request.params;
      const items = carts.get(cartId) ?? [];
      const existing = items.find((item) => item.sku === request.body.sku);
      if (existing) existing.qty += request.body.qty;
      else items.push({ sku: request.body.sku, qty: request.body.qty });
      carts.set(cartId, items);
      return reply.code(201).send({ cartId, node: id, items });
    },
  );

  app.delete<{ Params: { cartId: string } }>('/carts/:cartId', async (request, reply) => {
    carts.delete(request.params.cartId);
    return reply.code(204).send();
  });

  return app;
}
