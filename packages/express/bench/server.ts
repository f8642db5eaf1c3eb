/**
 * One benchmark server per process (so autocannon never shares an event loop with it). BENCH_APP = 'bare' | 'noop'
 * (bare plus one pass-through middleware: what any `app.use()` layer costs) | 'ringroute' | 'ringroute+monitor' |
 * 'ringroute+proxy' (proxying every key to BENCH_OWNER, a bare server) | 'undici' (bare with undici's stream() to
 * BENCH_OWNER as the handler: the leanest proxy), BENCH_EXPRESS = 'express' | 'express4'. Prints `{ url, paths }`
 * once it serves: `paths` are requests for keys this node owns (the owner's, when proxying). Answers any IPC message
 * with its CPU time (user + system) used so far.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { ringRoute } from '@ringroute/express';
import type express5 from 'express';
import { undiciProxy } from '../../ring-core/bench/support/undici-proxy.js';

const express = createRequire(import.meta.url)(process.env.BENCH_EXPRESS ?? 'express') as typeof express5;
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const app = express();
const handler = (_req: express5.Request, res: express5.Response) => void res.json({ ok: true });
let paths = Array.from({ length: 64 }, (_, i) => `/items?key=key-${i}`);
if (process.env.BENCH_APP === 'noop') app.use((_req: express5.Request, _res: express5.Response, next: express5.NextFunction) => next());
const owner = process.env.BENCH_OWNER;
if (process.env.BENCH_APP?.startsWith('ringroute')) {
  const proxy = process.env.BENCH_APP === 'ringroute+proxy';
  const nodes = proxy
    ? [
        { id: 'self', url },
        { id: 'owner', url: owner! },
      ]
    : [
        { id: 'self', url },
        { id: 'peer-1', url: 'http://127.0.0.1:1' },
        { id: 'peer-2', url: 'http://127.0.0.1:2' },
      ];
  const rr = ringRoute({ nodes, self: 'self', key: 'query:key', misroute: proxy ? 'proxy' : 'redirect' });
  await rr.ready();
  if (process.env.BENCH_APP === 'ringroute+monitor') app.use(rr.monitor());
  app.use(rr);
  paths = Array.from({ length: 1000 }, (_, i) => `key-${i}`)
    .filter((key) => rr.ring!.owner(key)!.id === (proxy ? 'owner' : 'self'))
    .slice(0, 64)
    .map((key) => `/items?key=${key}`);
}
if (process.env.BENCH_APP === 'undici') {
  const toOwner = undiciProxy(owner!);
  app.get('/items', (req: express5.Request, res: express5.Response) => toOwner(req, res, req.url));
} else app.get('/items', handler);
server.on('request', app);
// CPU time (user + system) this process has used, on request over IPC: the cost per request, which other load on the
// machine skews far less than throughput. The same measure as every other benchmark's.
process.on('message', () => {
  const { user, system } = process.cpuUsage();
  process.send!({ cpuMicros: user + system });
});
process.stdout.write(`${JSON.stringify({ url, paths })}\n`);
