/**
 * WebSocket upgrade proxy (ring-core/node proxyUpgrade) against a direct connection to the same kind of owner.
 * Two `ws` echo servers and one proxying server run in their own processes; this process drives real `ws`
 * clients: CONNECTIONS sockets each keeping `window` messages of SIZE bytes in flight, echoed back (16 in flight:
 * throughput; 1: ping-pong, where the extra hop's latency shows). Each round loads the direct and the proxied
 * path at the same time (the machine is shared: noise then hits both alike), the ratio of messages/s is taken per
 * round, and the proxy's CPU time per message is read from its process; the table gives medians.
 *
 *   npx tsx bench/upgrade.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { builtPackages } from './support/built.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DURATION_MS = 2000;
const CONNECTIONS = 8;
const WINDOWS = [16, 1];
const SIZE = 1024;

const script = fileURLToPath(new URL('./support/ws-server.ts', import.meta.url));

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...process.execArgv, script], { env: builtPackages(new URL('..', import.meta.url), env), stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, url: line };
}

async function cpuMicros(child: ChildProcess): Promise<number> {
  child.send('cpu');
  const [reply] = (await once(child, 'message')) as [{ cpuMicros: number }];
  return reply.cpuMicros;
}

/** Echoed messages per second over `ms`, with CONNECTIONS sockets each keeping `window` messages in flight. */
async function load(url: string, ms: number, window: number): Promise<{ rate: number; count: number }> {
  const payload = Buffer.alloc(SIZE, 0x61);
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/bench?key=k${i}`, { perMessageDeflate: false });
      await once(ws, 'open');
      return ws;
    }),
  );
  let echoed = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      echoed++;
      if (running) ws.send(payload);
    });
    for (let i = 0; i < window; i++) ws.send(payload);
  }
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  running = false;
  const rate = echoed / ((performance.now() - started) / 1000);
  await Promise.all(sockets.map((ws) => (ws.close(1000), once(ws, 'close'))));
  return { rate, count: echoed };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const direct = await start({ BENCH_ROLE: 'owner' });
const owner = await start({ BENCH_ROLE: 'owner' });
const proxy = await start({ BENCH_ROLE: 'proxy', BENCH_TARGET: owner.url });
try {
  await load(direct.url, 1000, 16); // warm-up (JIT in every process)
  await load(proxy.url, 1000, 16);
  const rows: string[] = [];
  for (const window of WINDOWS) {
    const rounds: { direct: number; proxied: number; proxyCpu: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Both sides are loaded at the same time, so whatever else the machine does hits them alike.
      const before = await cpuMicros(proxy.child);
      const [d, p] = await Promise.all([load(direct.url, DURATION_MS, window), load(proxy.url, DURATION_MS, window)]);
      rounds.push({ direct: d.rate, proxied: p.rate, proxyCpu: ((await cpuMicros(proxy.child)) - before) / p.count });
    }
    const ratios = rounds.map((r) => r.proxied / r.direct);
    rows.push(
      `| ${window} | ${Math.round(median(rounds.map((r) => r.direct)))} | ${Math.round(median(rounds.map((r) => r.proxied)))} | ${median(ratios).toFixed(3)} | ${median(rounds.map((r) => r.proxyCpu)).toFixed(1)} | ${ratios.map((x) => x.toFixed(2)).join(' ')} | >= 0.9 |`,
    );
  }
  console.log(`## WebSocket upgrade proxy (ring-core/node proxyUpgrade) vs a direct connection\n`);
  console.log(`ws echo owners; ${CONNECTIONS} sockets, messages of ${SIZE} B, N in flight per socket; ${ROUNDS} rounds loading both paths at once, ${DURATION_MS / 1000} s; medians\n`);
  console.log('| in flight per socket | direct messages/s | proxied messages/s | ratio | proxy CPU µs/message | every round | target |');
  console.log('| ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const row of rows) console.log(row);
} finally {
  for (const { child } of [direct, owner, proxy]) child.kill();
}
