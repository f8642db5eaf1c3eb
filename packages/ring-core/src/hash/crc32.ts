import { hashBytes } from './bytes.js';

/** The CRC-32 table (IEEE 802.3, reflected polynomial 0xedb88320), as zlib, nginx and HAProxy use it. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * Continues a running CRC over bytes. The running value starts at 0xffffffff and a digest is its complement
 * (crc32Final): nginx builds its ring points by continuing one running value, so the steps stay separate.
 */
export function crc32Update(crc: number, bytes: ArrayLike<number>): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export const CRC32_INIT = 0xffffffff;
export const crc32Final = (crc: number) => (crc ^ 0xffffffff) >>> 0;

/** CRC-32 of a key's UTF-8 bytes: nginx's `hash $key consistent` and HAProxy's `crc32` hash. */
export function crc32(key: string): number {
  return crc32Final(hashBytes(key, CRC32_INIT, crcStep));
}

const crcStep = (c: number, byte: number) => (TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8)) >>> 0;
