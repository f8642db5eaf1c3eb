const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * A key's UTF-8 bytes: what nginx and HAProxy hash when the key reaches them unescaped. ASCII keys (the common
 * case) skip TextEncoder, whose allocation dominates hashing a short key.
 */
export function utf8(key: string): Uint8Array {
  if (key.length === 0) return EMPTY;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return encoder.encode(key);
  const bytes = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
  return bytes;
}
