import { parseArgs } from 'node:util';
import type { MisroutePolicy } from '@ringroute/ring-core';
import { sampleKeys, startDemo } from './demo.js';

const USAGE = `Usage: pnpm demo [-- --port 4000] [--misroute redirect|proxy|refuse] [--once]

Starts 3 RingRoute nodes (Fastify + @ringroute/fastify) and a live dashboard.
Membership is in-process by default; set REDIS_URL to use Redis membership.
--once (or DEMO_ONCE=1) prints the sample keys and exits.`;

/** A mistake of the user's: one line and the usage on stderr, never a stack trace. */
function usageError(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

// pnpm 10 passes the `--` of `pnpm demo -- --port 4000` through to the script: it is not an end of options here.
const args = process.argv.slice(2);
const parsed = (() => {
  try {
    return parseArgs({
      args: args[0] === '--' ? args.slice(1) : args,
      options: {
        port: { type: 'string', default: process.env.PORT ?? '4000' },
        misroute: { type: 'string', default: process.env.MISROUTE ?? 'redirect' },
        once: { type: 'boolean', default: process.env.DEMO_ONCE === '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return usageError((error as Error).message.split('. ')[0]!); // "Unknown option '--x'" without parseArgs' advice on positionals
  }
})();
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_000) usageError(`--port: must be a port number (got ${JSON.stringify(values.port)})`);
const misroute = values.misroute as MisroutePolicy;
if (!['redirect', 'proxy', 'refuse'].includes(misroute))
  usageError(`--misroute: must be redirect, proxy or refuse (got ${JSON.stringify(values.misroute)})`);

const redisUrl = process.env.REDIS_URL || undefined;
// Until the cluster is up (Redis may not answer yet: the nodes keep trying), Ctrl-C gives the start up.
const starting = new AbortController();
const giveUp = () => starting.abort();
process.on('SIGINT', giveUp).on('SIGTERM', giveUp);
const demo = await startDemo({
  port,
  misroute,
  redisUrl,
  traffic: !values.once,
  signal: starting.signal,
  onWaiting: (reason) => console.log(`  ${reason} (retrying; Ctrl-C to stop)`),
}).catch((error: NodeJS.ErrnoException & { port?: number }) => {
  if (starting.signal.aborted) {
    console.log('\nstopped before the cluster was up');
    return process.exit(0);
  }
  // The dashboard takes --port and the nodes the next 3 ports: a port in use is the usual reason to fail here.
  const message =
    error.code === 'EADDRINUSE'
      ? `port ${error.port} is in use: pick other ports with --port (the dashboard takes it, the nodes the next 3)`
      : `the demo could not start: ${error.message}`;
  console.error(message);
  return process.exit(1);
});
process.off('SIGINT', giveUp).off('SIGTERM', giveUp);

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
console.log(
  `\n${bold('RingRoute demo')}: ${demo.cluster.nodes.size} nodes, ${redisUrl ? `Redis membership (${redisUrl})` : 'in-process membership (set REDIS_URL to use Redis)'}, misroute = ${misroute}\n`,
);
for (const node of demo.cluster.nodes.values()) console.log(`  ${node.id}  ${node.url}`);
console.log(`\n  ${'key'.padEnd(14)}${'owner'.padEnd(9)}a request to a non-owner`);
for (const { key, owner, nonOwner } of await sampleKeys(demo)) {
  const answer = nonOwner ? `GET ${nonOwner.node} -> ${nonOwner.status} ${nonOwner.summary}` : '(no other node)';
  console.log(`  ${key.padEnd(14)}${(owner ?? '-').padEnd(9)}${answer}`);
}

if (values.once) {
  await demo.close();
} else {
  console.log(`\n  ${bold(`Dashboard: ${demo.dashboard.url}`)}   (Ctrl-C to stop)\n`);
  // Ctrl-C reaches every process of the group (pnpm, tsx, this one), and tsx may relay it once more: the handler
  // stays on to absorb the repeats, and the exit is an explicit 0 so that pnpm reports no failure.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nleaving the cluster…');
    demo.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('the demo did not stop cleanly:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
