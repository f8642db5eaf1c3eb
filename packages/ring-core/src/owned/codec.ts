import { fail } from '../errors.js';
import type { StateCodec } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The default codec: JSON over UTF-8. `undefined` cannot be stored (delete the key instead). */
export const jsonCodec: StateCodec<unknown> = {
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('owned state: this value has no JSON form (delete the key instead of storing undefined)');
    return encoder.encode(text);
  },
  decode: (bytes) => JSON.parse(decoder.decode(bytes)) as unknown,
};

export function checkCodec<T>(codec: unknown, option: string): StateCodec<T> {
  if (codec === undefined) return jsonCodec as StateCodec<T>;
  const c = codec as Partial<StateCodec<T>> | null;
  if (c === null || typeof c !== 'object' || typeof c.encode !== 'function' || typeof c.decode !== 'function')
    fail(option, 'must be an object with encode(value) and decode(bytes) methods');
  return c as StateCodec<T>;
}
