/**
 * Fastify plugin benchmark: every scenario side by side with its peer in one run (paired rounds, median ratio).
 *   owned    Fastify + ringRoute, key owned by the node            vs bare Fastify        (target >= 0.95)
 *   redirect Fastify + ringRoute answering 307 to the owner        vs bare Fastify        (target >= 0.90)
 *   proxy    Fastify + ringRoute proxying to the owner             vs @fastify/reply-from alone, same upstream (>= 0.95)
 *            and vs reply-from adding the same X-Forwarded-* / hop headers
 *            and vs undici's stream() alone on the raw response (the leanest proxy: the plugin's own cost)
 * Env: BENCH_SECONDS (per run, default 2), BENCH_ROUNDS (per comparison, default 7), BENCH_CONNECTIONS (default 32),
 * BENCH_ONLY (owned | redirect | proxy: one comparison).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { builtPackages } from '../../ring-core/bench/support/built.js';
import { table, targets, type Target } from '../../ring-core/bench/support/measure.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** Seconds of load on each server before the rounds: a proxied request runs enough code that 1 s left V8 optimizing it during the first rounds. */
const warmup = Number(process.env.BENCH_WARMUP ?? 5);

const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./servers.ts', import.meta.url))], {
  env: builtPackages(new URL('..', import.meta.url)),
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [line] = (await once(child.stdout!, 'data')) as [Buffer];
const { meter, ...urls } = JSON.parse(line.toString()) as Record<
  'bare' | 'owned' | 'redirect' | 'proxy' | 'replyFrom' | 'replyFromHeaders' | 'undici' | 'meter',
  string
>;
const cpuMicros = async () => {
  const { user, system } = (await (await fetch(meter)).json()) as { user: number; system: number };
  return user + system;
};

try {
  const expected = { bare: 200, owned: 200, redirect: 307, proxy: 200, replyFrom: 200, replyFromHeaders: 200, undici: 200 } as const;
  for (const [name, url] of Object.entries(urls)) {
    const res = await fetch(url, { redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status !== expected[name as keyof typeof expected])
      throw new Error(`${name}: expected ${expected[name as keyof typeof expected]}, got ${res.status}`);
  }

  const run = async (url: string, duration: number) => {
    const before = await cpuMicros();
    const result = await autocannon({ url, connections, duration });
    const cpu = (await cpuMicros()) - before;
    if (result.errors > 0) throw new Error(`${url}: ${result.errors} errors`);
    return { rps: result.requests.average, p99: result.latency.p99, cpu: cpu / result.requests.total };
  };
  for (const url of Object.values(urls)) await run(url, warmup); // warm-up (JIT, connection pools)

  // Each comparison runs its two sides back to back, alternating which goes first (ABBA), and reports the median of
  // the per-round ratios: the machine is shared, so only adjacent runs see the same background load.
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const comparisons = [
    ['Fastify + plugin, owned key', 'owned', 'bare Fastify', 'bare', 0.95],
    ['Fastify + plugin, redirect (307)', 'redirect', 'bare Fastify', 'bare', 0.9],
    ['Fastify + plugin, proxy to owner', 'proxy', '@fastify/reply-from alone', 'replyFrom', 0.95],
    ['Fastify + plugin, proxy to owner', 'proxy', 'reply-from + the same forwarding headers', 'replyFromHeaders', 0.95],
    ['Fastify + plugin, proxy to owner', 'proxy', "undici's stream() alone", 'undici', 0.95],
  ] as const;
  const rows: (string | number)[][] = [];
  const goals: Target[] = [];
  const only = process.env.BENCH_ONLY; // e.g. 'proxy': run the proxy comparisons only
  for (const [label, name, peerLabel, peer, target] of comparisons) {
    if (only && only !== name) continue;
    const ours: { rps: number; p99: number; cpu: number }[] = [];
    const theirs: { rps: number; p99: number; cpu: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        ours.push(await run(urls[name], seconds));
        theirs.push(await run(urls[peer], seconds));
      } else {
        theirs.push(await run(urls[peer], seconds));
        ours.push(await run(urls[name], seconds));
      }
    }
    const ratio = median(ours.map((o, i) => o.rps / theirs[i]!.rps));
    // CPU ratio: the server CPU a peer request costs over what ours costs (1 = same cost per request).
    const cpuRatio = median(ours.map((o, i) => theirs[i]!.cpu / o.cpu));
    const rps = (xs: typeof ours) => Math.round(median(xs.map((x) => x.rps)));
    const p99 = (xs: typeof ours) => median(xs.map((x) => x.p99));
    const cpu = (xs: typeof ours) => median(xs.map((x) => x.cpu)).toFixed(1);
    rows.push([
      label,
      rps(ours),
      p99(ours),
      cpu(ours),
      peerLabel,
      rps(theirs),
      p99(theirs),
      cpu(theirs),
      ratio.toFixed(3),
      cpuRatio.toFixed(3),
    ]);
    goals.push([
      `${label.replace('Fastify + plugin, ', '')} / ${peerLabel}, req/s >= ${target.toFixed(2)}`,
      ratio.toFixed(3),
      ratio >= target,
    ]);
  }
  table(
    `Fastify plugin beside its peers: autocannon ${connections} connections, ${rounds} paired rounds x ${seconds} s (ABBA), medians`,
    ['scenario', 'req/s', 'p99 ms', 'CPU µs/req', 'peer', 'peer req/s', 'peer p99 ms', 'peer CPU µs/req', 'req/s ratio', 'CPU ratio'],
    rows,
  );
  targets(goals);
} finally {
  child.kill();
}
