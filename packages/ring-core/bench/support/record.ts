import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What one benchmark measured, as `pnpm bench:report` reads it: every table it printed and the targets it declared.
 * Written to the results directory (one file per benchmark, the last run's) when the benchmark's process exits with
 * 0, so a benchmark that fails or is interrupted leaves its current figures in BENCHMARKS.md alone.
 */
export interface BenchResult {
  /** `<package folder>/<file>`, e.g. `ring-core/lookup`; a package's `bench/index.ts` is the package: `fastify`. */
  bench: string;
  /** How to run this benchmark alone. */
  command: string;
  /** The run it was part of: `pnpm bench` (one entry for all its benchmarks), or this benchmark alone. */
  run: BenchRun;
  /** Cores, CPU model, memory, OS. */
  machine: string;
  node: string;
  tables: RecordedTable[];
  targets: RecordedTarget[];
}

export interface BenchRun {
  /** The command as typed, with the BENCH_* / SCALE_* knobs that were set. */
  command: string;
  /** ISO time of the run's start. */
  date: string;
  /** 1-minute load average at the run's start. */
  load: number;
}

export interface RecordedTable {
  title: string;
  head: string[];
  rows: string[][];
}

export interface RecordedTarget {
  target: string;
  measured: string;
  /** `yes`, `**no**`, `-` (reported, no target) or a word that says what the figure decided. */
  met: string;
}

/** The repository root (this file is packages/ring-core/bench/support/record.ts). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** Where benchmarks write their results and `bench:report` reads them (gitignored). */
export const resultsDir = () => process.env.RINGROUTE_BENCH_RESULTS ?? join(ROOT, 'bench-results');
/** Set by `pnpm bench` for every benchmark it runs: the run's command, start and load (a `BenchRun` as JSON). */
export const RUN_ENV = 'RINGROUTE_BENCH_RUN';

/** The knobs that shorten or reshape a run (`BENCH_ROUNDS=3`, `SCALE_SIZES=10`), as shell assignments. */
export function knobs(env: NodeJS.ProcessEnv = process.env): string {
  return Object.entries(env)
    .filter(([name, value]) => /^(BENCH|SCALE)_/.test(name) && value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${/^[\w.,:/@+-]*$/.test(value!) ? value : `'${value}'`} `)
    .join('');
}

function machine(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.replace(/\s+/g, ' ').trim();
  return `${cpu.length} cores${model ? ` (${model})` : ''}, ${(totalmem() / 2 ** 30).toFixed(1)} GB, ${platform()}/${arch()}`;
}

/** The benchmark this process runs, from its script: `<package>/bench/<file>.ts`. */
function identify(path: string): { bench: string; command: string } {
  const script = resolve(path);
  if (basename(dirname(script)) !== 'bench' || !script.endsWith('.ts'))
    throw new Error(`table() records results for a benchmark file <package>/bench/<name>.ts; this process runs ${script}`);
  const file = basename(script, '.ts');
  const packageDir = dirname(dirname(script));
  const { name } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { name: string };
  return {
    bench: file === 'index' ? basename(packageDir) : `${basename(packageDir)}/${file}`,
    command: `pnpm --filter ${name} exec tsx bench/${file}.ts`,
  };
}

/** When this process started its benchmark (this module loads with the benchmark's first imports). */
const started = { date: new Date().toISOString(), load: loadavg()[0]! };

/** The tables and targets of the benchmark this process runs; saved when it exits with 0. */
class Recorder {
  private readonly result: BenchResult;

  constructor() {
    const { bench, command } = identify(process.argv[1] ?? '');
    const run: BenchRun = process.env[RUN_ENV]
      ? (JSON.parse(process.env[RUN_ENV]) as BenchRun)
      : { command: `${knobs()}${command}`, ...started };
    this.result = { bench, command, run, machine: machine(), node: process.version, tables: [], targets: [] };
    process.on('exit', (code) => this.save(code));
  }

  table(title: string, head: string[], rows: (string | number)[][]): void {
    this.result.tables.push({ title, head, rows: rows.map((row) => row.map(String)) });
  }

  targets(targets: RecordedTarget[]): void {
    this.result.targets.push(...targets);
  }

  private save(code: number): void {
    if (code !== 0) {
      process.stderr.write(`${this.result.bench}: exited with ${code}, results not recorded\n`);
      return;
    }
    mkdirSync(resultsDir(), { recursive: true });
    writeFileSync(join(resultsDir(), `${this.result.bench.replace('/', '.')}.json`), `${JSON.stringify(this.result, null, 2)}\n`);
  }
}

// One benchmark per process: the first table starts its record.
let current: Recorder | undefined;
export const recorder = (): Recorder => (current ??= new Recorder());

/** The results in `dir`, oldest run first (a benchmark with no section yet gets one in this order). */
export function readResults(dir: string): BenchResult[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => {
      const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as BenchResult;
      if (
        typeof result.bench !== 'string' ||
        typeof result.run?.date !== 'string' ||
        !Array.isArray(result.tables) ||
        !Array.isArray(result.targets)
      )
        throw new Error(`${join(dir, file)} is not a benchmark result (see bench/support/record.ts)`);
      return result;
    })
    .sort((a, b) => a.run.date.localeCompare(b.run.date) || a.bench.localeCompare(b.bench));
}
