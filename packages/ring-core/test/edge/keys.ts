/** A small seeded PRNG (mulberry32), so every run sends the same keys. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Printable ASCII, Latin, Greek, Cyrillic, CJK, and an emoji (astral, 4 UTF-8 bytes). No controls: header values cannot carry them.
const ALPHABETS = [
  [0x21, 0x7e],
  [0xa1, 0x17f],
  [0x391, 0x3c9],
  [0x410, 0x44f],
  [0x4e00, 0x9fff],
  [0x1f300, 0x1f64f],
] as const;

/**
 * `count` distinct keys, a third each random ASCII, unicode, and long (up to 1,000 characters, mixed). Inner spaces
 * yes, leading or trailing ones no: proxies trim a header value's outer whitespace.
 */
export function testKeys(count: number, seed = 12): string[] {
  const next = random(seed);
  const char = (alphabets: readonly (readonly [number, number])[]) => {
    const [lo, hi] = alphabets[Math.floor(next() * alphabets.length)]!;
    return String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  };
  const keys = new Set<string>();
  while (keys.size < count) {
    const kind = keys.size % 3;
    const length = kind === 2 ? 100 + Math.floor(next() * 900) : 1 + Math.floor(next() * 40);
    const alphabets = kind === 0 ? ALPHABETS.slice(0, 1) : ALPHABETS;
    let key = '';
    for (let i = 0; i < length; i++) key += i > 0 && i < length - 1 && next() < 0.05 ? ' ' : char(alphabets);
    keys.add(key);
  }
  return [...keys];
}

/** A GET with the key as the raw UTF-8 bytes of a header, as the proxies see a key sent by any client. */
export const keyRequest = (path: string, header: string, key: string) =>
  Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nhost: edge\r\n${header}: `), Buffer.from(key), Buffer.from('\r\n\r\n')]);
