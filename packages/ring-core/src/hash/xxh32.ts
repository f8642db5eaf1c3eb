const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);

/** Four chars as a little-endian 32-bit word. */
const word = (key: string, at: number) =>
  key.charCodeAt(at) | (key.charCodeAt(at + 1) << 8) | (key.charCodeAt(at + 2) << 16) | (key.charCodeAt(at + 3) << 24);

/**
 * XXH32 (seed 0) of an ASCII key, read straight from its char codes, or -1 when the key has a non-ASCII
 * character. For ASCII, char codes are the UTF-8 bytes, so this is the same digest xxhash-wasm computes,
 * minus the cost of copying the string into WebAssembly memory (the bulk of a short key's lookup).
 */
export function xxh32Ascii(key: string): number {
  const len = key.length;
  let i = 0;
  let h: number;
  for (let k = 0; k < len; k++) if (key.charCodeAt(k) > 0x7f) return -1;
  if (len >= 16) {
    let v1 = (PRIME1 + PRIME2) | 0;
    let v2 = PRIME2;
    let v3 = 0;
    let v4 = -PRIME1 | 0;
    for (; i + 16 <= len; i += 16) {
      v1 = round(v1, word(key, i));
      v2 = round(v2, word(key, i + 4));
      v3 = round(v3, word(key, i + 8));
      v4 = round(v4, word(key, i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = PRIME5;
  }
  h = (h + len) | 0;
  for (; i + 4 <= len; i += 4) h = Math.imul(rotl((h + Math.imul(word(key, i), PRIME3)) | 0, 17), PRIME4);
  for (; i < len; i++) h = Math.imul(rotl((h + Math.imul(key.charCodeAt(i), PRIME5)) | 0, 11), PRIME1);
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}
