import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { regenerate } from '../../bench/support/doc.js';
import { readResults, ROOT, type BenchResult } from '../../bench/support/record.js';
import { report } from '../../bench/support/report.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixture/bench/sample.ts', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the fixture benchmark with `env`; its exit code, stderr and what it recorded in a fresh results directory. */
function runFixture(env: Record<string, string>): Promise<{ code: number; stderr: string; results: BenchResult[]; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringroute-bench-results-'));
  dirs.push(dir);
  const { RINGROUTE_BENCH_RUN: _run, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', fixture],
      { cwd: packageDir, env: { ...inherited, RINGROUTE_BENCH_RESULTS: dir, ...env } },
      (error, _stdout, stderr) =>
        resolve({
          code: error ? Number(error.code) : 0,
          stderr,
          results: readResults(dir),
          files: existsSync(dir) ? readdirSync(dir) : [],
        }),
    );
  });
}

describe('a benchmark records what it measured', () => {
  it('on exit 0: its tables, targets, how to run it alone, the run with its knobs, machine and Node', async () => {
    const { code, results, files } = await runFixture({ BENCH_ROUNDS: '2', SCALE_SIZES: '10,100' });
    expect(code).toBe(0);
    expect(files).toEqual(['fixture.sample.json']);
    const [result] = results;
    expect(result).toMatchObject({
      bench: 'fixture/sample',
      command: 'pnpm --filter @ringroute/bench-fixture exec tsx bench/sample.ts',
      run: { command: 'BENCH_ROUNDS=2 SCALE_SIZES=10,100 pnpm --filter @ringroute/bench-fixture exec tsx bench/sample.ts' },
      node: process.version,
      tables: [
        {
          title: 'Sample (2 rounds)',
          head: ['case', 'value'],
          rows: [
            ['a | b', '1'],
            ['c', '2.5'],
          ],
        },
      ],
      targets: [
        { target: 'value <= 3', measured: '2.5', met: 'yes' },
        { target: 'a figure without a target', measured: '1.0x', met: '-' },
      ],
    });
    expect(result!.machine).toMatch(/^\d+ cores/);
    expect(Date.now() - Date.parse(result!.run.date)).toBeGreaterThanOrEqual(0);
    expect(result!.run.load).toBeGreaterThanOrEqual(0);
  });

  it('run by `pnpm bench`: the run it belongs to, the same for every benchmark of it', async () => {
    const run = { command: 'pnpm bench', date: '2026-12-01T14:03:12.000Z', load: 0.31 };
    const { results } = await runFixture({ RINGROUTE_BENCH_RUN: JSON.stringify(run) });
    expect(results[0]!.run).toEqual(run);
  });

  it('nothing when it fails, so its current figures stay', async () => {
    const { code, stderr, files } = await runFixture({ FIXTURE_EXIT: '3' });
    expect(code).toBe(3);
    expect(files).toEqual([]);
    expect(stderr).toContain('fixture/sample: exited with 3, results not recorded');
  });
});

const result = (bench: string, date: string, targets = [{ target: 'x <= 1', measured: '0.5', met: 'yes' }]): BenchResult => ({
  bench,
  command: `pnpm --filter @ringroute/${bench} exec tsx bench/index.ts`,
  run: { command: 'pnpm bench', date, load: 0.5 },
  machine: '2 cores (Test CPU), 8.0 GB, linux/x64',
  node: 'v20.20.2',
  tables: [{ title: 'Figures', head: ['case', 'value'], rows: [['new | piped', '2']] }],
  targets,
});

const block = (id: string, body: string) =>
  `<!-- bench ${id}: written by pnpm bench:report, edit outside these markers -->\n${body}<!-- /bench -->`;
const DOC = `# Benchmarks

Intro, by hand.

${block(
  'summary',
  `| benchmark | target | measured | met | measured on |
| --- | --- | --- | --- | --- |
| [alpha](#alpha-first) | a <= 1 | 0.9 | yes | 2026-11-22 |
| [beta](#beta-second) | b >= 2 | 1 | **no** | 2026-11-29 |

- alpha: 2026-11-22 by \`old alpha\`, quiet.
- beta: 2026-11-29 by \`old beta\`, busy.
`,
)}

## alpha: first

Prose of alpha, by hand.
${block('alpha', 'Measured 2026-11-22 by `old alpha`, quiet.\n### Old alpha\n| case | value |\n| --- | --- |\n| a | 0.9 |\n\n')}

## beta: second

Prose of beta.
${block('beta', 'Measured 2026-11-29 by `old beta`, busy.\n### Old beta\n| case | value |\n| --- | --- |\n| b | 1 |\n\n')}
`;

describe('bench:report regenerates BENCHMARKS.md', () => {
  it('with no results, leaves the file as it is (BENCHMARKS.md itself included)', () => {
    expect(regenerate(DOC, [])).toEqual({ doc: DOC, notes: [] });
    const file = readFileSync(join(ROOT, 'BENCHMARKS.md'), 'utf8');
    expect(regenerate(file, []).doc).toBe(file);
  });

  it("replaces a benchmark's tables and summary rows with its result, keeping the prose and the other benchmarks", () => {
    const { doc, notes } = regenerate(DOC, [result('alpha', '2026-12-01T14:03:12.000Z')]);
    const measured =
      'Measured 2026-12-01 14:03 UTC by `pnpm bench` on 2 cores (Test CPU), 8.0 GB, linux/x64, Node v20.20.2, load average 0.50 at the start.';
    expect(doc).toContain(
      `Prose of alpha, by hand.\n${block('alpha', `${measured}\n### Figures\n| case | value |\n| --- | --- |\n| new \\| piped | 2 |\n\n`)}`,
    );
    expect(doc).not.toContain('Old alpha');
    expect(doc).toContain(
      block('beta', 'Measured 2026-11-29 by `old beta`, busy.\n### Old beta\n| case | value |\n| --- | --- |\n| b | 1 |\n\n'),
    );
    expect(doc).toContain(
      [
        '| [alpha](#alpha-first) | x <= 1 | 0.5 | yes | 2026-12-01 14:03 UTC |',
        '| [beta](#beta-second) | b >= 2 | 1 | **no** | 2026-11-29 |',
        '',
        `- alpha: ${measured.replace('Measured ', '')}`,
        '- beta: 2026-11-29 by `old beta`, busy.',
      ].join('\n'),
    );
    expect(doc.startsWith('# Benchmarks\n\nIntro, by hand.\n')).toBe(true);
    expect(notes).toEqual(['alpha: updated from the run of 2026-12-01T14:03:12.000Z (`pnpm bench`)']);
    expect(regenerate(doc, [result('alpha', '2026-12-01T14:03:12.000Z')]).doc).toBe(doc);
    expect(regenerate(doc, []).doc).toBe(doc);
  });

  it('says "every benchmark" for a run that measured them all', () => {
    const { doc } = regenerate(DOC, [result('alpha', '2026-12-01T14:03:12.000Z'), result('beta', '2026-12-01T14:03:12.000Z')]);
    expect(doc).toMatch(/\n- every benchmark: 2026-12-01 14:03 UTC by `pnpm bench` on /);
  });

  it("keeps a benchmark's figures when its recorded result is older than them", () => {
    const { doc, notes } = regenerate(DOC, [result('beta', '2026-11-28T10:00:00.000Z')]);
    expect(doc).toBe(DOC);
    expect(notes).toEqual(["beta: kept, BENCHMARKS.md's figures (2026-11-29) are newer than the recorded run (2026-11-28T10:00:00.000Z)"]);
  });

  it('gives a benchmark without a section one at the end, with its command, and its summary rows', () => {
    const { doc, notes } = regenerate(DOC, [result('gamma', '2026-12-01T14:03:12.000Z', [])]);
    expect(
      doc.endsWith(
        '\n## gamma\n\nCommand: `pnpm --filter @ringroute/gamma exec tsx bench/index.ts`.\n<!-- bench gamma: written by pnpm bench:report, edit outside these markers -->\nMeasured 2026-12-01 14:03 UTC by `pnpm bench` on 2 cores (Test CPU), 8.0 GB, linux/x64, Node v20.20.2, load average 0.50 at the start.\n### Figures\n| case | value |\n| --- | --- |\n| new \\| piped | 2 |\n\n<!-- /bench -->\n',
      ),
    ).toBe(true);
    expect(notes).toEqual(['gamma: new section from the run of 2026-12-01T14:03:12.000Z (`pnpm bench`)']);
    const withTargets = regenerate(DOC, [result('gamma', '2026-12-01T14:03:12.000Z')]).doc;
    expect(withTargets).toContain('| [gamma](#gamma) | x <= 1 | 0.5 | yes | 2026-12-01 14:03 UTC |');
  });

  it("run by `pnpm bench`, takes only that run's results: a benchmark that failed in it keeps its figures", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringroute-bench-report-'));
    dirs.push(dir);
    const thisRun = result('alpha', '2026-12-01T14:03:12.000Z');
    const earlier = result('beta', '2026-11-30T09:00:00.000Z'); // newer than the file's figures, but from another run
    writeFileSync(join(dir, 'alpha.json'), JSON.stringify(thisRun));
    writeFileSync(join(dir, 'beta.json'), JSON.stringify(earlier));
    const file = join(dir, 'BENCHMARKS.md');
    writeFileSync(file, DOC);
    const previous = process.env.RINGROUTE_BENCH_RESULTS;
    process.env.RINGROUTE_BENCH_RESULTS = dir;
    try {
      report(file, thisRun.run);
      expect(readFileSync(file, 'utf8')).toBe(regenerate(DOC, [thisRun]).doc);
      report(file);
      expect(readFileSync(file, 'utf8')).toBe(regenerate(DOC, [earlier, thisRun]).doc);
    } finally {
      if (previous === undefined) delete process.env.RINGROUTE_BENCH_RESULTS;
      else process.env.RINGROUTE_BENCH_RESULTS = previous;
    }
  });

  it('refuses a file without the summary block', () => {
    expect(() => regenerate('# Benchmarks\n', [])).toThrow(/no summary block/);
  });
});
