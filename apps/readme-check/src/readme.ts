import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is apps/readme-check/src/readme.ts). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const readReadme = (pkg: string): string => readFileSync(`${ROOT}packages/${pkg}/README.md`, 'utf8');

export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** The fenced code blocks of one section: its heading line and everything under it, down to the next heading of its level or above. */
export function sectionBlocks(markdown: string, heading: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.replace(/^#+\s*/, '') === heading && line.startsWith('#'));
  if (start < 0) throw new Error(`no section "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const blocks: CodeBlock[] = [];
  let open: CodeBlock | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (open === undefined && /^#+\s/.test(line) && /^#+/.exec(line)![0].length <= level) break;
    if (!line.startsWith('```')) {
      if (open) open.code += `${line}\n`;
    } else if (open) {
      blocks.push(open);
      open = undefined;
    } else open = { lang: line.slice(3).trim(), code: '', line: i + 1 };
  }
  return blocks;
}

export interface DocumentedOption {
  option: string;
  /** Names inside a `{ ... }` code span of the option's row: its nested options. */
  nested: string[];
}

/** The options of the first table after the line `marker` (a heading or a sentence): every backticked name of the first column. */
export function tableOptions(markdown: string, marker: string): DocumentedOption[] {
  const lines = markdown.split('\n');
  const at = lines.findIndex((line) => line.includes(marker));
  if (at < 0) throw new Error(`no "${marker}"`);
  let i = at + 1;
  while (i < lines.length && !lines[i]!.startsWith('|')) i++;
  const options: DocumentedOption[] = [];
  for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    // Cells are split on pipes that are not escaped (`'http' \| fn` stays in one cell).
    const cells = lines[i]!.split(/(?<!\\)\|/).slice(1, -1);
    const spans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const nested = cells
      .flatMap(spans)
      .filter((span) => span.startsWith('{'))
      .flatMap((span) => span.slice(1, span.lastIndexOf('}')).split(','))
      .map((part) => /^\s*(\w+)/.exec(part)?.[1])
      .filter((name): name is string => name !== undefined);
    for (const option of spans(cells[0] ?? '')) options.push({ option, nested });
  }
  return options;
}
