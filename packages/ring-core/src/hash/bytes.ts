const encoder = new TextEncoder();

/** A key's UTF-8 bytes: what nginx and HAProxy hash when the key reaches them unescaped. */
export const utf8 = (key: string): Uint8Array => encoder.encode(key);

/**
 * Hashes a key's UTF-8 bytes with a byte-at-a-time step. ASCII keys (the common case) are read straight from
 * their char codes, which are their UTF-8 bytes, sparing TextEncoder's allocation (most of a short key's cost);
 * a key with any other character is hashed again over its encoded bytes.
 */
export function hashBytes(key: string, init: number, step: (h: number, byte: number) => number): number {
  let h = init;
  let seen = 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    seen |= code;
    h = step(h, code);
  }
  if (seen <= 0x7f) return h;
  h = init;
  for (const byte of utf8(key)) h = step(h, byte);
  return h;
}
