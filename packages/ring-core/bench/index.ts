/**
 * Runs every benchmark in this folder: each `bench/*.ts` (but this file) runs itself and prints its tables.
 * Each file gets its own process, so one file's JIT state (e.g. call sites that have seen every strategy)
 * cannot colour another's numbers. `tsx bench/index.ts lookup balance` runs only the files named.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && file !== 'index.ts')
  .filter((file) => only.length === 0 || only.includes(basename(file, '.ts')))
  .sort();

console.log(`# @ringroute/ring-core benchmarks: Node ${process.version}, ${process.platform}/${process.arch}\n`);
let failed = 0;
for (const file of files) {
  // process.execArgv carries tsx's loader into the child.
  const { status } = spawnSync(process.execPath, [...process.execArgv, `${dir}${file}`], { stdio: 'inherit' });
  if (status !== 0) {
    failed++;
    console.error(`bench/${file} exited with ${status}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
