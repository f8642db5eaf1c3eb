import { hashBytes, utf8 } from './bytes.js';

// HAProxy's key hashes (src/hash.c) and its avalanche step (full_hash), over a key's UTF-8 bytes.

/** sdbm: h = byte + (h << 6) + (h << 16) - h. HAProxy's default hash. */
export function sdbm(key: string): number {
  return hashBytes(key, 0, sdbmStep) >>> 0;
}

const sdbmStep = (h: number, byte: number) => (byte + (h << 6) + (h << 16) - h) | 0;

/**
 * wt6: two rotating 32-bit lanes whose rotation steps are taken from the data itself. The state does not fit one
 * number, so it runs over the bytes directly (ASCII keys from their char codes, as hashBytes does).
 */
export function wt6(key: string): number {
  let ascii = true;
  for (let i = 0; i < key.length && ascii; i++) ascii = key.charCodeAt(i) <= 0x7f;
  return ascii ? wt6Of(key.length, (i) => key.charCodeAt(i)) : wt6Of(...bytesOf(key));
}

function bytesOf(key: string): [number, (i: number) => number] {
  const bytes = utf8(key);
  return [bytes.length, (i) => bytes[i]!];
}

function wt6Of(length: number, byteAt: (i: number) => number): number {
  let h0 = 0xa53c965a;
  let h1 = 0x5ca6953a;
  let step0 = 6;
  let step1 = 18;
  for (let i = 0; i < length; i++) {
    const t = byteAt(i);
    h0 = ~(h0 ^ t);
    h1 = ~(h1 + t);
    // A step of 0 makes `>>> 32`, which JavaScript masks to `>>> 0` as x86 does in HAProxy's binary: a rotation by 0.
    const rotated = (h1 << step0) | (h1 >>> (32 - step0));
    h1 = (h0 << step1) | (h0 >>> (32 - step1));
    h0 = rotated;
    const mix = ((h0 >>> 16) ^ h1) & 0xffff;
    step0 = mix & 0x1f;
    step1 = mix >>> 11;
  }
  return (h0 ^ h1) >>> 0;
}

/** Bob Jenkins' 32-bit integer mix times a large prime: HAProxy's `avalanche` modifier and its server points. */
export function fullHash(value: number): number {
  let a = value | 0;
  a = (a + 0x7ed55d16 + (a << 12)) | 0;
  a = a ^ 0xc761c23c ^ (a >>> 19);
  a = (a + 0x165667b1 + (a << 5)) | 0;
  a = (a + 0xd3a2646c) ^ (a << 9);
  a = (a + 0xfd7046c5 + (a << 3)) | 0;
  a = a ^ 0xb55a4f09 ^ (a >>> 16);
  return Math.imul(a, 3221225473 | 0) >>> 0;
}
