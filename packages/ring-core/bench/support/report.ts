import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { regenerate } from './doc.js';
import { readResults, resultsDir, ROOT, type BenchRun } from './record.js';

/**
 * `pnpm bench:report [file]`: rewrites BENCHMARKS.md (or `file`) from the results the benchmarks recorded (see
 * record.ts) and says what it changed. `pnpm bench` runs it at the end with its run, so that only that run's results
 * count (a benchmark that failed in it keeps its figures); run it alone after running some benchmarks.
 */
export function report(file = join(ROOT, 'BENCHMARKS.md'), run?: BenchRun): void {
  const before = readFileSync(file, 'utf8');
  const results = readResults(resultsDir()).filter((result) => !run || result.run.date === run.date);
  const { doc, notes } = regenerate(before, results);
  for (const note of notes) console.log(note);
  if (doc !== before) writeFileSync(file, doc);
  console.log(`${file}: ${doc === before ? 'unchanged' : 'written'} (${results.length} results in ${resultsDir()})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) report(process.argv[2] && resolve(process.env.INIT_CWD ?? '.', process.argv[2]));
