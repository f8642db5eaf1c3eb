import xxhash from 'xxhash-wasm';
import type { HashFunction, HashName } from '../types.js';
import { crc32 } from './crc32.js';
import { djb2 } from './djb2.js';
import { fullHash, sdbm, wt6 } from './haproxy.js';
import { murmur3 } from './murmur3.js';
import { xxh32Ascii } from './xxh32.js';

export { crc32, djb2, fullHash, murmur3, sdbm, wt6 };

export const HASH_NAMES: readonly HashName[] = ['xxh64', 'xxh32', 'murmur3', 'djb2', 'crc32', 'sdbm', 'wt6'];

/**
 * Resolves a hash by name to a function from key to unsigned 32-bit position.
 * xxHash comes from xxhash-wasm, whose WebAssembly module must be instantiated first (hence async).
 * xxh64 keeps the high 32 bits of the 64-bit digest.
 */
export async function loadHash(name: HashName): Promise<HashFunction> {
  switch (name) {
    case 'xxh32': {
      const { h32 } = await xxhash();
      // ASCII keys (the common case) skip the copy into WebAssembly memory; both give the same digest.
      return (key) => {
        const h = xxh32Ascii(key);
        return h >= 0 ? h : h32(key);
      };
    }
    case 'xxh64': {
      const { h64 } = await xxhash();
      return (key) => Number(h64(key) >> 32n);
    }
    case 'murmur3':
      return (key) => murmur3(key);
    case 'djb2':
      return djb2;
    case 'crc32':
      return crc32;
    case 'sdbm':
      return sdbm;
    case 'wt6':
      return wt6;
    default:
      throw new TypeError(`hash: unknown hash "${String(name)}"; expected one of ${HASH_NAMES.join(', ')} or a function`);
  }
}
