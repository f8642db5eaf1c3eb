/** Connection-level headers (RFC 9110 §7.6.1) are never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The client's Host travels in X-Forwarded-Host; the upstream gets its own (undici also refuses Expect).
  'host',
  'expect',
]);

/** The end-to-end headers of a message: without the hop-by-hop ones, including those its Connection header names. */
export function endToEnd(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connection = headers.connection;
  const named = typeof connection === 'string' ? connection.toLowerCase().split(',').map((t) => t.trim()) : [];
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value;
  }
  return out;
}
