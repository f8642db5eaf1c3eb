import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { knobs, ROOT, RUN_ENV, type BenchRun } from './record.js';
import { report } from './report.js';

/**
 * `pnpm bench`: every package's benchmarks one after the other (turbo, which builds first; `--continue`, so a failing
 * benchmark does not skip the others), then `bench:report`. Every benchmark records this run (command, start, load
 * average) as its own, so the summary of BENCHMARKS.md names one run. Arguments go to turbo: `pnpm bench --filter ...`.
 */
const args = process.argv.slice(2);
const run: BenchRun = { command: `${knobs()}${['pnpm bench', ...args].join(' ')}`, date: new Date().toISOString(), load: loadavg()[0]! };
const turbo = createRequire(join(ROOT, 'package.json')).resolve('turbo/bin/turbo');
const { status } = spawnSync(process.execPath, [turbo, 'run', 'bench', '--concurrency=1', '--continue', ...args], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, [RUN_ENV]: JSON.stringify(run) },
});
report(undefined, run);
process.exitCode = status ?? 1;
