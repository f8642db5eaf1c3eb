/** Thrown for an invalid option or argument; `option` names the offending field (e.g. `nodes[2].weight`). */
export class RingRouteConfigError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'RingRouteConfigError';
    this.option = option;
  }
}

export function fail(option: string, message: string): never {
  throw new RingRouteConfigError(option, message);
}

const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

export function checkNumber(
  option: string,
  value: unknown,
  { min = -Infinity, max = Infinity, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (integer && !Number.isInteger(value)))
    fail(option, `must be ${integer ? 'an integer' : 'a number'} (got ${show(value)})`);
  if (value < min || value > max) fail(option, `must be between ${min} and ${max} (got ${show(value)})`);
  return value;
}

export function checkString(option: string, value: unknown, { allowEmpty = false } = {}): string {
  if (typeof value !== 'string') fail(option, `must be a string (got ${show(value)})`);
  if (!allowEmpty && value.length === 0) fail(option, 'must not be empty');
  return value;
}

export function checkOneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T))
    fail(option, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${show(value)})`);
  return value as T;
}

/** Edit distance, for "did you mean" suggestions (option names are short). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** The known name closest to `name`: one it starts (or that starts it), else the nearest by edit distance if near enough. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefixed = known.filter((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase()));
  if (prefixed.length > 0) return prefixed.reduce((a, b) => (Math.abs(a.length - name.length) <= Math.abs(b.length - name.length) ? a : b));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * Refuses an option nobody knows, top-level or nested: errors name it (`parent.child` inside `parent`) and suggest the
 * closest known name. Every options object of ring-core and the adapters goes through it.
 */
export function checkKnownOptions(options: object, known: readonly string[], parent?: string): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const best = closest(name, known);
    const hint = best === undefined ? '' : ` (did you mean \`${best}\`?)`;
    fail(parent === undefined ? name : `${parent}.${name}`, `unknown option${hint}; valid options: ${known.join(', ')}`);
  }
}
