/**
 * Issue 10's chaos scenario (test/support/scenario.ts) with SmartRoute, then with @hocuspocus/extension-redis 3.4
 * instead, in one run: the same node processes, PostgreSQL store (extension-database), HAProxy round robin,
 * clients and chaos schedule, on a private redis-server so that INFO commandstats counts the run's commands only.
 * Prints each run's summary line, then one markdown table. Server CPU: every node process's process.cpuUsage()
 * from its ready report until the fresh readers are done (reported every 200 ms; a killed node counts until its
 * last report).
 *
 *   pnpm --filter @ringroute/hocuspocus exec tsx bench/scenario.ts     (also part of `pnpm bench`; ~40 s per peer)
 */
import { table, targets } from '../../ring-core/bench/support/measure.js';
import { SpawnedRedis } from '../../ring-core/test/redis/server.js';
import { freePort } from '../test/support/ports.js';
import { runScenario, summary, type ScenarioResult } from '../test/support/scenario.js';

const redis = new SpawnedRedis(await freePort());
await redis.start();
const results: ScenarioResult[] = [];
try {
  for (const peer of ['smartroute', 'extension-redis'] as const) {
    const result = await runScenario(peer, redis.url, `bench-scenario-${peer}-${Date.now().toString(36)}`);
    console.log(summary(result));
    for (const problem of [...result.lost, ...result.notStored, ...result.disagreements].slice(0, 20)) console.log(`  ${peer}: ${problem}`);
    results.push(result);
  }
} finally {
  await redis.kill();
}

const cpuPerThousand = (r: ScenarioResult) => r.cpuMs / (r.acknowledged / 1000);
const commandsPerItem = (r: ScenarioResult) => r.redisCommands / r.acknowledged;
const [ours, peer] = results as [ScenarioResult, ScenarioResult];
const versus = (of: (r: ScenarioResult) => number) => of(ours) / of(peer);
table(
  'Chaos scenario behind HAProxy round robin: SmartRoute vs @hocuspocus/extension-redis (Hocuspocus 3.4)',
  [
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
  results.map((r) => [
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
  ]),
);
const lost = ours.lost.length + ours.notStored.length;
targets([
  ['SmartRoute: acknowledged items lost (fresh readers, PostgreSQL) = 0', `${lost} of ${ours.acknowledged}`, lost === 0],
  [
    'SmartRoute / extension-redis per acknowledged item: Redis commands, server CPU (no target)',
    `${versus(commandsPerItem).toFixed(4)}x, ${versus(cpuPerThousand).toFixed(2)}x`,
  ],
]);
