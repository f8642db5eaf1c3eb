import { Bench } from 'tinybench';
import { recorder } from './record.js';

/** `count` distinct 16-byte ASCII keys (the size of a typical session or document id). */
export function keys16(count: number, prefix = 'key-'): string[] {
  const width = 16 - prefix.length;
  return Array.from({ length: count }, (_, i) => prefix + i.toString(36).padStart(width, '0'));
}

/** Lookups per benchmark call: amortises the timer around each call, which costs more than one lookup. */
export const BATCH = 5000;

/**
 * The clock: this process's CPU time in ms. The benchmark machines are shared (2 cores, several jobs), and
 * wall time would count the time other processes hold the CPU; CPU time counts only our own work.
 */
export const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export interface Row {
  name: string;
  /** Nanoseconds per operation (per lookup for batched tasks). */
  ns: number;
}

/**
 * Times each task with tinybench; `perCall` operations happen in each call. Tasks run in the given order
 * in one process, so every ratio compares like with like. Reports the median sample: on a shared machine a
 * sample that shared its core with another job is an outlier, not the cost of the code.
 */
export async function timeTasks(tasks: [name: string, fn: () => unknown, perCall: number][], time = 1000): Promise<Row[]> {
  const bench = new Bench({ time, warmupTime: 300, now: cpuNow });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  return tasks.map(([name, , perCall], i) => ({ name, ns: (bench.tasks[i]!.result!.latency.p50! * 1e6) / perCall }));
}

export const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const verdict = (ok: boolean) => (ok ? 'yes' : '**no**');

function print(title: string, head: string[], rows: (string | number)[][]): void {
  console.log(`### ${title}\n`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
}

/**
 * Prints a Markdown table and records it: `pnpm bench:report` puts the tables of a benchmark's last run into its
 * section of BENCHMARKS.md. Put the run's parameters (rounds, durations, sizes) in the title.
 */
export function table(title: string, head: string[], rows: (string | number)[][]): void {
  print(title, head, rows);
  recorder().table(title, head, rows);
}

/**
 * A target: what is measured and the bar it must clear, the figure, and whether it cleared it. `met` may instead be
 * a word saying what the figure decided, or be left out for a figure reported without a target.
 */
export type Target = [target: string, measured: string, met?: boolean | string];

/** Prints the benchmark's targets and records them for the summary at the top of BENCHMARKS.md. */
export function targets(rows: Target[]): void {
  const rendered = rows.map(([target, measured, met]) => ({
    target,
    measured,
    met: met === undefined ? '-' : typeof met === 'string' ? met : verdict(met),
  }));
  print(
    'Targets',
    ['target', 'measured', 'met'],
    rendered.map((t) => [t.target, t.measured, t.met]),
  );
  recorder().targets(rendered);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Count, p50, p99 and max of a sample. */
export function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}
