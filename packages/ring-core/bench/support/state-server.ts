/**
 * A child process of bench/owned.ts: one cart app, its state kept as BENCH_VARIANT says. `POST /carts/<key>` adds an
 * item to the cart (at most ITEMS, oldest dropped) and answers its item count.
 *   redis          the cart in Redis: a GET and a SET per request (what users pick today)
 *   owned          owned state: the ring-core router decides (this node owns every key), the cart is in memory
 *   owned-behind   owned state with persist { write: 'behind' } to Redis (flushWithin 100 ms)
 *   owned-through  owned state with persist { write: 'through' } to Redis
 * Prints its URL; answers an IPC message with its CPU time (µs) and the store round trips it made so far.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { MemoryBus, MemoryMembership } from '@ringroute/ring-core';
import { createRouter } from '@ringroute/ring-core/http';
import { redisPersist } from '@ringroute/ring-core/redis';

interface Cart {
  items: { sku: string; qty: number; note: string }[];
}
/** Items a cart keeps: about 1 KB of JSON. */
const ITEMS = 12;
const NOTE = 'x'.repeat(48);

function addItem(cart: Cart | undefined, sku: string): Cart {
  const items = cart ? cart.items.slice(-(ITEMS - 1)) : [];
  items.push({ sku, qty: 1, note: NOTE });
  return { items };
}

type Handler = (req: IncomingMessage, key: string, sku: string) => Promise<number>;

const variant = process.env.BENCH_VARIANT;
const redisUrl = process.env.BENCH_REDIS!;
let storeCommands = () => 0;

async function redisBacked(): Promise<Handler> {
  const redis = new Redis(redisUrl);
  let commands = 0;
  storeCommands = () => commands;
  return async (_req, key, sku) => {
    commands++;
    const stored = await redis.get(`cart:${key}`);
    const cart = addItem(stored === null ? undefined : (JSON.parse(stored) as Cart), sku);
    commands++;
    await redis.set(`cart:${key}`, JSON.stringify(cart));
    return cart.items.length;
  };
}

/** One node owning every key: each request is routed by ring-core (serve here), then updates the cart in memory. */
async function owned(write?: 'behind' | 'through'): Promise<Handler> {
  // A prefix per variant: both processes claim the same cart keys, and the later one's tokens would fence the other.
  const store = write && redisPersist({ redis: redisUrl, prefix: `owned-${write}` });
  storeCommands = () => store?.commands ?? 0;
  const membership = new MemoryMembership({ bus: new MemoryBus(), self: { id: 'a', url: 'http://127.0.0.1:1' } });
  const router = createRouter({ membership, key: 'params:cart', state: store ? { persist: { store, write } } : {} });
  const carts = router.owned().state<Cart>('carts');
  await router.start();
  return async (req, key, sku) => {
    const routed = router.handle({ method: req.method!, url: req.url!, headers: req.headers, params: { cart: key } });
    if (routed.kind !== 'serve') throw new Error(`not served here: ${routed.kind}`);
    const cart = await carts.update(key, (current) => addItem(current, sku));
    return cart!.items.length;
  };
}

const handlers: Record<string, () => Promise<Handler>> = {
  redis: redisBacked,
  owned: () => owned(),
  'owned-behind': () => owned('behind'),
  'owned-through': () => owned('through'),
};
if (!variant || !handlers[variant]) throw new Error(`BENCH_VARIANT must be one of ${Object.keys(handlers).join(', ')}`);
const handle = await handlers[variant]!();

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const match = /^\/carts\/([^/?]+)\?sku=([^&]+)$/.exec(req.url ?? '');
  if (req.method !== 'POST' || !match) return void res.writeHead(404).end();
  req.resume();
  handle(req, match[1]!, match[2]!).then(
    (items) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"items":${items}}`),
    (error: Error) => res.writeHead(500).end(error.message),
  );
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('message', () => {
  const { user, system } = process.cpuUsage();
  process.send!({ cpuMicros: user + system, commands: storeCommands() });
});
process.on('disconnect', () => process.exit(0));
