/**
 * A child process of bench/handoff.ts: one node with a Redis membership and owned state (`kv`, raw 1 KB values),
 * routing `GET /kv?key=` by its key (proxy mode) and serving transfers. Prints its URL; answers IPC commands:
 *   start       joins the cluster
 *   fill        writes a value for every key of [0, BENCH_KEYS) this node owns
 *   stats       handoff progress, ring size, CPU time (µs)
 *   leave       hands every key over (answers the ms that took) and leaves (router.close())
 *   plain URL N POSTs N bytes in one request over one connection to URL/sink; answers the ms it took
 *   /sink       reads a body and answers its size (the plain-HTTP peer's receiver)
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { createRouter } from '@ringroute/ring-core/http';
import { Forwarder, sendAnswer } from '@ringroute/ring-core/node';
import { RedisMembership } from '@ringroute/ring-core/redis';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
const [id, redis, cluster] = [env('BENCH_ID'), env('BENCH_REDIS'), env('BENCH_CLUSTER')];
const KEYS = Number(env('BENCH_KEYS'));
const VALUE = new Uint8Array(Number(env('BENCH_VALUE_BYTES'))).fill(0x61);
/** BENCH_DEBUG=1: the engine's logs and this node's handoff progress every second, on stderr. */
const debug = process.env.BENCH_DEBUG === '1';
const log = (details: object, message: string) => debug && console.error(id, message, JSON.stringify(details).slice(0, 500));
const LOGGER = { debug: log, info: log, warn: log, error: log };
if (debug) setInterval(() => console.error(id, JSON.stringify(router.handoffProgress())), 1000).unref();

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const membership = new RedisMembership({ redis, cluster, self: { id, url }, syncInterval: 100 });
const tuning = {
  ...(process.env.BENCH_BATCH ? { batchSize: Number(process.env.BENCH_BATCH) } : {}),
  ...(process.env.BENCH_CONCURRENCY ? { maxConcurrentTransfers: Number(process.env.BENCH_CONCURRENCY) } : {}),
};
const router = createRouter({ membership, key: 'query:key', misroute: 'proxy', state: { leaveTimeout: 120_000, ...tuning } });
const kv = router.owned(LOGGER).state<Uint8Array>('kv', { codec: { encode: (v) => v, decode: (b) => b } });
const forwarder = new Forwarder(router.options.proxyTimeouts);

server.on('request', (req, res) => {
  const path = (req.url ?? '/').split('?')[0]!;
  if (router.handoffEndpoint.matches(req.method!, path)) return void router.handoffEndpoint.serve(req, res);
  if (path === '/sink') {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length)).on('end', () => res.end(String(bytes)));
    return;
  }
  const result = router.handle(req as typeof req & { method: string; url: string });
  if (result.kind === 'proxy') return void forwarder.proxy(router, result.plan, req, res, LOGGER);
  if (result.kind === 'answer') return sendAnswer(res, result.answer);
  kv.get(result.route.key).then(
    (value) => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(value?.byteLength ?? 0)),
    (error: { statusCode?: number; message: string }) => res.writeHead(error.statusCode ?? 500).end(error.message),
  );
});

async function plain(target: string, bytes: number): Promise<number> {
  const agent = new Agent({ connections: 1 });
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  async function* body() {
    for (let sent = 0; sent < bytes; sent += chunk.length) yield sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent);
  }
  const started = performance.now();
  const { origin } = new URL(target);
  const res = await agent.request({ origin, path: '/sink', method: 'POST', body: Readable.from(body()) });
  if (Number(await res.body.text()) !== bytes) throw new Error('the sink did not get every byte');
  const ms = performance.now() - started;
  await agent.close();
  return ms;
}

const commands: Record<string, (args: string[]) => Promise<unknown>> = {
  start: () => router.start(),
  fill: async () => {
    let filled = 0;
    for (let i = 0; i < KEYS; i++) {
      const key = `k${i}`;
      if (membership.ring.owner(key)?.id !== id) continue;
      await kv.set(key, VALUE);
      filled++;
    }
    return filled;
  },
  stats: async () => {
    const { user, system } = process.cpuUsage();
    return { handoff: router.handoffProgress(), members: membership.ready ? membership.ring.nodes.length : 0, cpuMicros: user + system };
  },
  leave: async () => {
    const started = performance.now();
    await router.owned().leave();
    const ms = performance.now() - started;
    await router.close();
    return ms;
  },
  plain: ([target, bytes]) => plain(target!, Number(bytes)),
};

process.on('message', ({ command, args }: { command: string; args: string[] }) => {
  commands[command]!(args ?? []).then(
    (result) => process.send!({ result: result ?? null }),
    (error: Error) => process.send!({ error: error.message }),
  );
});
process.on('disconnect', () => process.exit(0));
console.log(url);
