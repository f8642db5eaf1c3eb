/**
 * Runs every benchmark in this folder: each `bench/*.ts` (but this file) runs itself when imported and
 * prints its tables. `tsx bench/index.ts lookup balance` runs only the files whose names are given.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && file !== 'index.ts')
  .filter((file) => only.length === 0 || only.includes(basename(file, '.ts')))
  .sort();

console.log(`# @ringroute/ring-core benchmarks: Node ${process.version}, ${process.platform}/${process.arch}\n`);
for (const file of files) await import(pathToFileURL(`${dir}${file}`).href);
