import { unescape } from 'node:querystring';

/**
 * One query parameter read straight from the request target, decoded as `node:querystring` decodes it. Keying on it
 * costs a scan instead of a full query parse, which matters under Express 5, whose `req.query` parses the whole
 * query string again on every access.
 */
export function queryParam(url: string, name: string): string | undefined {
  const start = url.indexOf('?');
  if (start < 0) return undefined;
  const prefix = `${name}=`;
  for (let i = start + 1; i < url.length;) {
    let end = url.indexOf('&', i);
    if (end < 0) end = url.length;
    if (url.startsWith(prefix, i)) {
      const raw = url.slice(i + prefix.length, end);
      return raw.includes('%') || raw.includes('+') ? unescape(raw.replace(/\+/g, ' ')) : raw;
    }
    i = end + 1;
  }
  return undefined;
}
