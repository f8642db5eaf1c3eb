/**
 * WebSocket upgrade proxy (ring-core/node proxyUpgrade) against a direct connection to the same kind of owner, and
 * beside HAProxy relaying the same connections in `mode tcp` (one thread): a C proxy that parses nothing, the cost
 * of one more hop by itself. Two `ws` echo servers and one proxying server run in their own processes; this process
 * drives real `ws` clients: CONNECTIONS sockets each keeping `window` messages of SIZE bytes in flight, echoed back
 * (16 in flight: throughput; 1: ping-pong, where the extra hop's latency shows). Each round loads the direct path
 * and one proxied path at the same time (the machine is shared: noise then hits both alike), through RingRoute and
 * through HAProxy one after the other, alternating which goes first (ABBA) after the same warm-up for every path;
 * ratios of messages/s are taken per round, each proxy's CPU time (user + system) per message is read from its
 * process; the table gives medians.
 *
 *   npx tsx bench/upgrade.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { builtPackages } from './support/built.js';
import { haproxyTcp } from './support/haproxy-tcp.js';
import { table, targets } from './support/measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DURATION_MS = 2000;
const CONNECTIONS = 8;
const WINDOWS = [16, 1];
const SIZE = 1024;

const script = fileURLToPath(new URL('./support/ws-server.ts', import.meta.url));

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: builtPackages(new URL('..', import.meta.url), env),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
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
const haproxy = await haproxyTcp(owner.url);

/** One round: the direct path and `url` loaded at once; the proxy's CPU time per echoed message from `cpu`. */
async function paired(url: string, window: number, cpu: () => Promise<number>): Promise<{ direct: number; proxied: number; cpu: number }> {
  const before = await cpu();
  const [d, p] = await Promise.all([load(direct.url, DURATION_MS, window), load(url, DURATION_MS, window)]);
  return { direct: d.rate, proxied: p.rate, cpu: ((await cpu()) - before) / p.count };
}

try {
  for (const url of [direct.url, proxy.url, haproxy.url]) await load(url, 1000, 16); // warm-up (JIT in every process)
  const rows: (string | number)[][] = [];
  const atWindow: Record<number, { ours: number; peer: number }> = {};
  for (const window of WINDOWS) {
    const ours: Awaited<ReturnType<typeof paired>>[] = [];
    const peer: Awaited<ReturnType<typeof paired>>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const measureOurs = async () => ours.push(await paired(proxy.url, window, () => cpuMicros(proxy.child)));
      const measurePeer = async () => peer.push(await paired(haproxy.url, window, async () => haproxy.cpuMicros()));
      for (const measure of round % 2 === 0 ? [measureOurs, measurePeer] : [measurePeer, measureOurs]) await measure();
    }
    const ratios = ours.map((r) => r.proxied / r.direct);
    const peerRatios = peer.map((r) => r.proxied / r.direct);
    const rate = (rounds: typeof ours, side: 'direct' | 'proxied') => Math.round(median(rounds.map((r) => r[side])));
    atWindow[window] = { ours: median(ratios), peer: median(ratios.map((r, i) => r / peerRatios[i]!)) };
    rows.push([
      window,
      rate(ours, 'direct'),
      rate(ours, 'proxied'),
      median(ratios).toFixed(3),
      median(ours.map((r) => r.cpu)).toFixed(1),
      rate(peer, 'proxied'),
      median(peerRatios).toFixed(3),
      median(peer.map((r) => r.cpu)).toFixed(1),
      atWindow[window].peer.toFixed(3),
      ratios.map((x) => x.toFixed(2)).join(' '),
    ]);
  }
  table(
    `WebSocket upgrade proxy (ring-core/node proxyUpgrade) vs a direct connection, beside HAProxy (mode tcp): ws echo owners, ${CONNECTIONS} sockets, ${SIZE} B messages, ${ROUNDS} rounds of ${DURATION_MS / 1000} s per proxy (ABBA), medians`,
    [
      'in flight per socket',
      'direct messages/s',
      'RingRoute messages/s',
      'RingRoute / direct',
      'RingRoute CPU µs/message',
      'HAProxy messages/s',
      'HAProxy / direct',
      'HAProxy CPU µs/message',
      'RingRoute / HAProxy',
      'RingRoute / direct, every round',
    ],
    rows,
  );
  targets([
    ['RingRoute / direct messages/s, 16 in flight per socket >= 0.9', atWindow[16]!.ours.toFixed(3), atWindow[16]!.ours >= 0.9],
    ['RingRoute / HAProxy messages/s, 16 in flight per socket (no target)', atWindow[16]!.peer.toFixed(3)],
  ]);
} finally {
  for (const { child } of [direct, owner, proxy]) child.kill();
  await haproxy.stop();
}
