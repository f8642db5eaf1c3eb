import type { MisroutePolicy } from '@ringroute/ring-core';
import type { LocalCluster } from './launch.js';

/** The cart store's banner (the Fastify and Express examples serve the same API): how to try it. */
export const cartStoreReady =
  (misroute: MisroutePolicy) =>
  ({ port, membership }: LocalCluster): string => `cart store ready: 3 nodes, misroute=${misroute}, ${membership} membership
try:
  curl -i http://127.0.0.1:${port}/route?key=alice
  curl -iL -X POST http://127.0.0.1:${port}/carts/alice/items -H 'content-type: application/json' -d '{"sku":"tea","qty":2}'
  curl -iL http://127.0.0.1:${port}/carts/alice`;
