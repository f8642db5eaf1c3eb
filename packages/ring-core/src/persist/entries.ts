import { checkNumber, fail } from '../errors.js';
import type { PersistEntry } from './types.js';

/** Every store compares tokens exactly: Lua numbers are doubles, PostgreSQL's bigint holds any safe integer. */
export function checkToken(token: unknown): number {
  return checkNumber('token', token, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
}

/**
 * Stores take keys as UTF-8 text: a lone surrogate would turn two keys into one record, and PostgreSQL's text
 * refuses NUL.
 */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string') fail('key', `must be a string (got ${typeof key})`);
  if (!(key as string & { isWellFormed(): boolean }).isWellFormed() || key.includes('\0'))
    fail('key', 'must be well-formed Unicode without NUL characters');
  return key;
}

export function checkEntry(entry: PersistEntry): void {
  checkKey(entry.key);
  checkToken(entry.token);
  if (entry.value !== null && !(entry.value instanceof Uint8Array)) fail('value', 'must be a Uint8Array or null');
}

/** A view of the same bytes (Buffer for ioredis and pg, Uint8Array for callers): no copy either way. */
export const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
export const asBytes = (buffer: Buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
