import Fastify, { type FastifyInstance } from 'fastify';
import { ringRoute } from '@ringroute/fastify';
import type { Membership, MisroutePolicy } from '@ringroute/ring-core';
import type { OwnedStateOptions } from '@ringroute/ring-core/owned';

export interface CartNodeOptions {
  /** This node's id in the ring. */
  id: string;
  membership: Membership;
  /** What a node does with a request for a cart it does not own. */
  misroute: MisroutePolicy;
  /** How carts move between nodes, and `persist` to survive crashes. */
  state?: OwnedStateOptions;
  logger?: boolean;
}

interface Item {
  sku: string;
  qty: number;
}

/**
 * A cart store that keeps carts in memory, on their owner node only. The RingRoute plugin makes that safe: a
 * request for a cart always ends up on the node that holds it (redirected or proxied there), and the carts move
 * with their keys when a node joins, leaves or restarts (owned state).
 */
export async function buildCartNode({ id, membership, misroute, state, logger = false }: CartNodeOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger });

  // Every route with a :cartId parameter is routed by it; the plugin's /health, /ready and /route are not.
  await app.register(ringRoute, { membership, self: id, key: 'params:cartId', misroute, state });
  const carts = app.ringRoute.state<Item[]>('carts');

  // Says which node actually handled the request (a proxied answer keeps the owner's header).
  app.addHook('preHandler', async (_request, reply) => {
    reply.header('x-served-by', id);
  });

  app.get<{ Params: { cartId: string } }>('/carts/:cartId', async (request) => {
    const { cartId } = request.params;
    return { cartId, node: id, items: (await carts.get(cartId)) ?? [] };
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
      const { sku, qty } = request.body;
      // One step per cart: no other request for this cart runs in between (and with persist, it is stored first).
      const items = await carts.update(cartId, (items = []) => {
        const existing = items.find((item) => item.sku === sku);
        if (existing) existing.qty += qty;
        else items.push({ sku, qty });
        return items;
      });
      return reply.code(201).send({ cartId, node: id, items });
    },
  );

  app.delete<{ Params: { cartId: string } }>('/carts/:cartId', async (request, reply) => {
    await carts.delete(request.params.cartId);
    return reply.code(204).send();
  });

  return app;
}
