const encoder = new TextEncoder();

/** DJB2 (h * 33 + byte, from 5381) over the key's UTF-8 bytes: the layer-7 router seed's hash. */
export function djb2(key: string): number {
  const bytes = encoder.encode(key);
  let h = 5381;
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 33) + bytes[i]!) | 0;
  return h >>> 0;
}
