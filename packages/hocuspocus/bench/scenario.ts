/**
 * Issue 10's chaos scenario (test/support/scenario.ts) with SmartRoute beside @hocuspocus/extension-redis 3.4, in one
 * run: the same node processes, PostgreSQL store (extension-database), HAProxy round robin, clients and chaos
 * schedule, on a private redis-server so that INFO commandstats counts the run's commands only. The peers take turns
 * in ABBA order over BENCH_ROUNDS rounds (default 2: SmartRoute, extension-redis, extension-redis, SmartRoute), each
 * run starting fresh node processes (the same start for both), so neither always runs first on the machine. Prints
 * each run's summary line, then one row per run and the ratios per round. Server CPU: every node process's
 * process.cpuUsage() (user + system) from its ready report until the fresh readers are done (reported every 200 ms; a
 * killed node counts until its last report).
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/scenario.ts     (also part of `pnpm bench`; ~40 s per run)
 */
import { table, targets } from '../../ring-core/bench/support/measure.js';
import { SpawnedRedis } from '../../ring-core/test/redis/server.js';
import { freePort } from '../test/support/ports.js';
import { runScenario, summary, type Peer, type ScenarioResult } from '../test/support/scenario.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PEERS = ['smartroute', 'extension-redis'] as const satisfies readonly Peer[];

const redis = new SpawnedRedis(await freePort());
await redis.start();
const rounds: Record<Peer, ScenarioResult>[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const results = {} as Record<Peer, ScenarioResult>;
    for (const peer of round % 2 === 0 ? PEERS : [...PEERS].reverse()) {
      const result = await runScenario(peer, redis.url, `bench-scenario-${peer}-${Date.now().toString(36)}`);
      console.log(summary(result));
      for (const problem of [...result.lost, ...result.notStored, ...result.disagreements].slice(0, 20))
        console.log(`  ${peer}: ${problem}`);
      results[peer] = result;
    }
    rounds.push(results);
  }
} finally {
  await redis.kill();
}

const cpuPerThousand = (r: ScenarioResult) => r.cpuMs / (r.acknowledged / 1000);
const commandsPerItem = (r: ScenarioResult) => r.redisCommands / r.acknowledged;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
table(
  `Chaos scenario behind HAProxy round robin: SmartRoute vs @hocuspocus/extension-redis (Hocuspocus 3.4), ${ROUNDS} rounds, ABBA`,
  [
    'round',
    'peer',
    'items acknowledged',
    'lost (fresh readers)',
    'lost (PostgreSQL)',
    'server CPU ms',
    'CPU ms / 1,000 acknowledged',
    'vs extension-redis',
    'Redis commands',
    'Redis cmds / acknowledged item',
    'vs extension-redis',
  ],
  rounds.flatMap((results, i) => {
    const peer = results['extension-redis'];
    return PEERS.map((name) => results[name]).map((r) => [
      i + 1,
      r.peer === 'smartroute' ? 'SmartRoute (relay)' : '@hocuspocus/extension-redis 3.4',
      r.acknowledged,
      r.lost.length,
      r.notStored.length,
      r.cpuMs.toFixed(0),
      cpuPerThousand(r).toFixed(1),
      `${(cpuPerThousand(r) / cpuPerThousand(peer)).toFixed(2)}x`,
      r.redisCommands,
      commandsPerItem(r).toFixed(3),
      `${(commandsPerItem(r) / commandsPerItem(peer)).toFixed(4)}x`,
    ]);
  }),
);
/** SmartRoute / extension-redis, the median over the rounds (each round's ratio is in the table). */
const ratio = (of: (r: ScenarioResult) => number) =>
  median(rounds.map((results) => of(results.smartroute) / of(results['extension-redis'])));
const ours = rounds.map((results) => results.smartroute);
const lost = ours.reduce((sum, r) => sum + r.lost.length + r.notStored.length, 0);
const acknowledged = ours.reduce((sum, r) => sum + r.acknowledged, 0);
targets([
  ['SmartRoute: acknowledged items lost (fresh readers, PostgreSQL) = 0, all rounds', `${lost} of ${acknowledged}`, lost === 0],
  [
    'SmartRoute / extension-redis per acknowledged item, median over the rounds: Redis commands, server CPU (no target)',
    `${ratio(commandsPerItem).toFixed(4)}x, ${ratio(cpuPerThousand).toFixed(2)}x`,
  ],
]);
