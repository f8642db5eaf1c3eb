const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);

/**
 * XXH32 (seed 0) of an ASCII key, read straight from its char codes, or -1 when the key has a non-ASCII
 * character. For ASCII, char codes are the UTF-8 bytes, so this is the same digest xxhash-wasm computes,
 * minus the cost of copying the string into WebAssembly memory (the bulk of a short key's lookup).
 *
 * Each char is read exactly once, into a, b, c, d (one little-endian word), and ORed into `seen`, which
 * tells at the end whether the key was ASCII. The four lanes of a stripe are spelled out: a helper returning
 * the word could not also report the chars without a second read, which costs ~40% of the hash.
 */
export function xxh32Ascii(key: string): number {
  const len = key.length;
  let seen = 0;
  let i = 0;
  let a: number, b: number, c: number, d: number;
  let h: number;
  if (len >= 16) {
    let v1 = (PRIME1 + PRIME2) | 0;
    let v2 = PRIME2;
    let v3 = 0;
    let v4 = -PRIME1 | 0;
    for (; i + 16 <= len; i += 16) {
      a = key.charCodeAt(i);
      b = key.charCodeAt(i + 1);
      c = key.charCodeAt(i + 2);
      d = key.charCodeAt(i + 3);
      seen |= a | b | c | d;
      v1 = round(v1, a | (b << 8) | (c << 16) | (d << 24));
      a = key.charCodeAt(i + 4);
      b = key.charCodeAt(i + 5);
      c = key.charCodeAt(i + 6);
      d = key.charCodeAt(i + 7);
      seen |= a | b | c | d;
      v2 = round(v2, a | (b << 8) | (c << 16) | (d << 24));
      a = key.charCodeAt(i + 8);
      b = key.charCodeAt(i + 9);
      c = key.charCodeAt(i + 10);
      d = key.charCodeAt(i + 11);
      seen |= a | b | c | d;
      v3 = round(v3, a | (b << 8) | (c << 16) | (d << 24));
      a = key.charCodeAt(i + 12);
      b = key.charCodeAt(i + 13);
      c = key.charCodeAt(i + 14);
      d = key.charCodeAt(i + 15);
      seen |= a | b | c | d;
      v4 = round(v4, a | (b << 8) | (c << 16) | (d << 24));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = PRIME5;
  }
  h = (h + len) | 0;
  for (; i + 4 <= len; i += 4) {
    a = key.charCodeAt(i);
    b = key.charCodeAt(i + 1);
    c = key.charCodeAt(i + 2);
    d = key.charCodeAt(i + 3);
    seen |= a | b | c | d;
    h = Math.imul(rotl((h + Math.imul(a | (b << 8) | (c << 16) | (d << 24), PRIME3)) | 0, 17), PRIME4);
  }
  for (; i < len; i++) {
    a = key.charCodeAt(i);
    seen |= a;
    h = Math.imul(rotl((h + Math.imul(a, PRIME5)) | 0, 11), PRIME1);
  }
  if (seen > 0x7f) return -1;
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}
