import { STATUS_CODES } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { ringRoute } from '@ringroute/express';
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
}

export interface CartNode {
  app: Express;
  /** Resolves with the membership's first ring (before it, routed requests answer 503). */
  ready(): Promise<void>;
  /** Hands every cart over and leaves the cluster (call it before the HTTP server closes). */
  close(): Promise<void>;
}

/** Errors (a malformed JSON body, say) answer in JSON like every other answer, never with Express's HTML stack page. */
const jsonErrors: ErrorRequestHandler = (error: Error & { status?: number }, _req, res, _next) => {
  const status = error.status !== undefined && error.status >= 400 && error.status < 600 ? error.status : 500;
  res.status(status).json({ error: STATUS_CODES[status], message: status < 500 ? error.message : 'the server failed to answer' });
};

interface Item {
  sku: string;
  qty: number;
}

/**
 * A cart store that keeps carts in memory, on their owner node only. The RingRoute middleware makes that safe: a
 * request for a cart always ends up on the node that holds it (redirected or proxied there), and the carts move
 * with their keys when a node joins, leaves or restarts (owned state).
 */
export function buildCartNode({ id, membership, misroute, state }: CartNodeOptions): CartNode {
  const app = express();
  const router = ringRoute({ membership, self: id, key: 'params:cartId', misroute, state });
  const carts = router.state<Item[]>('carts');

  // /route?key=, /api/routes/stats, /health, /ready, /metrics, and the transfers of carts between nodes.
  app.use(router.monitor());
  // Mounted on the keyed path, so :cartId is the key. Before the body parser: a proxied body streams untouched.
  app.use('/carts/:cartId', router);
  app.use(express.json());
  // Says which node actually handled the request (a proxied answer keeps the owner's header).
  app.use((_req, res, next) => {
    res.set('x-served-by', id);
    next();
  });

  // Express 5 passes a rejected promise (a 503 while a cart moves, say) to the error handler.
  app.get('/carts/:cartId', async (req, res) => {
    const { cartId } = req.params;
    res.json({ cartId, node: id, items: (await carts.get(cartId)) ?? [] });
  });

  app.post('/carts/:cartId/items', async (req, res) => {
    const { sku, qty = 1 } = (req.body ?? {}) as Partial<Item>;
    if (typeof sku !== 'string' || sku.length === 0 || sku.length > 64)
      return void res.status(400).json({ error: 'Bad Request', message: '"sku" must be a string of 1 to 64 characters' });
    if (!Number.isInteger(qty) || qty < 1 || qty > 999)
      return void res.status(400).json({ error: 'Bad Request', message: '"qty" must be an integer from 1 to 999' });
    const { cartId } = req.params;
    const items = await carts.update(cartId, (items = []) => {
      const existing = items.find((item) => item.sku === sku);
      if (existing) existing.qty += qty;
      else items.push({ sku, qty });
      return items;
    });
    res.status(201).json({ cartId, node: id, items });
  });

  app.delete('/carts/:cartId', async (req, res) => {
    await carts.delete(req.params.cartId);
    res.status(204).end();
  });

  app.use(jsonErrors);
  return { app, ready: () => router.ready(), close: () => router.close() };
}
