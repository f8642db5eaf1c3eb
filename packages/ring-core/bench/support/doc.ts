import type { BenchResult } from './record.js';

/**
 * BENCHMARKS.md's generated parts: one block per benchmark (the `Measured ...` line of its last run and its tables)
 * and the summary block at the top, each between `<!-- bench <id> ... -->` and `<!-- /bench -->`. Everything outside
 * the blocks is hand-written and kept as it is. The blocks are the only store: a benchmark with no new result keeps
 * its block, and its summary rows are read back from the summary.
 */

const SUMMARY = 'summary';
const BLOCK = /^<!-- bench (\S+?):? [^\n]*-->\n([\s\S]*?)^<!-- \/bench -->$/gm;
const CLOSING = '<!-- /bench -->';
/** A summary row: its benchmark (a link to the section) and the rest of the row, kept as written. */
const SUMMARY_ROW = /^\| \[([^\]]+)\]\([^)]*\) \| (.*)$/;

interface Block {
  id: string;
  /** The lines between the markers, each ending in a newline. */
  body: string;
  start: number;
  end: number;
}

function blocks(doc: string): Block[] {
  return [...doc.matchAll(BLOCK)].map((m) => ({ id: m[1]!, body: m[2]!, start: m.index, end: m.index + m[0].length }));
}

const wrap = (id: string, body: string) =>
  `<!-- bench ${id}: written by pnpm bench:report, edit outside these markers -->\n${body}${CLOSING}`;

const row = (cells: string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
const markdownTable = (head: string[], rows: string[][]) => [row(head), row(head.map(() => '---')), ...rows.map(row)];

/** A block's first line, `Measured <date> by ...`, and its date: `2026-12-01 14:03 UTC`, or a day alone. */
function measuredOf(body: string): { line: string; date: string } | undefined {
  const line = body.slice(0, body.indexOf('\n'));
  const date = /^Measured (\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2} UTC)?)/.exec(line)?.[1];
  return date === undefined ? undefined : { line, date };
}

/** A block's date as the start of an ISO time, to compare with a result's. */
const isoOf = (date: string) => `${date.slice(0, 10)}T${date.slice(11, 16) || '00:00'}`;

/** An ISO time as a block shows it. */
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function measured(result: BenchResult): string {
  const { command, date, load } = result.run;
  return `Measured ${when(date)} by \`${command}\` on ${result.machine}, Node ${result.node}, load average ${load.toFixed(2)} at the start.`;
}

function render(result: BenchResult): string {
  const lines = [measured(result)];
  for (const table of result.tables) lines.push(`### ${table.title}`, ...markdownTable(table.head, table.rows), '');
  return `${lines.join('\n')}\n`;
}

/** GitHub's anchor for a heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');

/** The anchor of the section holding a benchmark's block: its nearest `## ` heading above. */
function anchor(doc: string, block: Block | undefined): string {
  const heading = block && [...doc.slice(0, block.start).matchAll(/^## (.*)$/gm)].at(-1)?.[1];
  return heading ? `#${slug(heading)}` : '#';
}

function summary(doc: string, fresh: Map<string, BenchResult>): string {
  const all = blocks(doc);
  const sections = all.filter((b) => b.id !== SUMMARY);
  const kept = new Map<string, string[]>();
  for (const line of all.find((b) => b.id === SUMMARY)!.body.split('\n')) {
    const match = SUMMARY_ROW.exec(line);
    if (match) kept.set(match[1]!, [...(kept.get(match[1]!) ?? []), match[2]!]);
  }
  const rows = [...new Set([...sections.map((b) => b.id), ...kept.keys()])].flatMap((id) => {
    const section = sections.find((b) => b.id === id);
    const link = `[${id}](${anchor(doc, section)})`;
    const result = fresh.get(id);
    const rest = result
      ? result.targets.map((t) => row([t.target, t.measured, t.met, when(result.run.date)]).slice(2))
      : (kept.get(id) ?? []);
    return rest.map((cells) => `| ${link} | ${cells}`);
  });
  // Each run once, with the benchmarks it measured.
  const runs = new Map<string, string[]>();
  for (const { id, body } of sections) {
    const line = measuredOf(body)?.line.replace(/^Measured /, '');
    if (line !== undefined) runs.set(line, [...(runs.get(line) ?? []), id]);
  }
  const described = [...runs].map(([line, ids]) => `- ${ids.length === sections.length ? 'every benchmark' : ids.join(', ')}: ${line}`);
  return [...markdownTable(['benchmark', 'target', 'measured', 'met', 'measured on'], []), ...rows, '', ...described, ''].join('\n');
}

/**
 * BENCHMARKS.md with each result's block (and summary rows) replaced by the result, unless the block is newer; a
 * benchmark without a section gets one at the end. Also says what it did, one line per result.
 */
export function regenerate(doc: string, results: BenchResult[]): { doc: string; notes: string[] } {
  if (!blocks(doc).some((b) => b.id === SUMMARY)) throw new Error('BENCHMARKS.md has no summary block (<!-- bench summary: ... -->)');
  const fresh = new Map<string, BenchResult>();
  const notes: string[] = [];
  for (const result of results) {
    const block = blocks(doc).find((b) => b.id === result.bench);
    const current = block && measuredOf(block.body);
    if (current && result.run.date.slice(0, 16) < isoOf(current.date)) {
      notes.push(`${result.bench}: kept, BENCHMARKS.md's figures (${current.date}) are newer than the recorded run (${result.run.date})`);
      continue;
    }
    const text = wrap(result.bench, render(result));
    doc = block
      ? doc.slice(0, block.start) + text + doc.slice(block.end)
      : `${doc.trimEnd()}\n\n## ${result.bench}\n\nCommand: \`${result.command}\`.\n${text}\n`;
    notes.push(`${result.bench}: ${block ? 'updated' : 'new section'} from the run of ${result.run.date} (\`${result.run.command}\`)`);
    fresh.set(result.bench, result);
  }
  const at = blocks(doc).find((b) => b.id === SUMMARY)!;
  doc = doc.slice(0, at.start) + wrap(SUMMARY, summary(doc, fresh)) + doc.slice(at.end);
  return { doc, notes };
}
