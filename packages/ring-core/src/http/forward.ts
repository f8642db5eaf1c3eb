import type { IncomingHttpHeaders } from './request.js';

/** Hops a proxied request has made so far (set by the proxying node). */
export const HOPS_HEADER = 'x-ringroute-hops';
/** Comma-separated ids of owners a proxying node could not reach; the next candidate then serves the key. */
export const UNREACHABLE_HEADER = 'x-ringroute-unreachable';
/** Clients do not resend custom headers after a redirect, so redirects carry the hop count in the Location query. */
export const HOPS_PARAM = 'rr_hops';
export const EPOCH_PARAM = 'rr_epoch';

/** Hops parameters need no decoding: the values are plain integers. */
const PARAM_RE = /[?&]rr_hops=(\d{1,6})/;

/** Hops made so far, from the proxy header or the redirect parameter; 0 when neither is there. */
export function readHops(headers: IncomingHttpHeaders, url: string): number {
  const header = headers[HOPS_HEADER];
  let hops = typeof header === 'string' ? parseInt(header, 10) || 0 : 0;
  if (url.includes('rr_hops=')) {
    const match = PARAM_RE.exec(url);
    if (match) hops = Math.max(hops, parseInt(match[1]!, 10));
  }
  return hops;
}

/** The request target as origin-form: an absolute-form target (`GET http://evil/x`) keeps only its path and query. */
export function originForm(url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  if (!URL.canParse(url)) return '/';
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

/** The path and query without the RingRoute redirect parameters. */
export function stripRouteParams(url: string): string {
  const path = originForm(url);
  const q = path.indexOf('?');
  if (q < 0 || !path.includes('rr_', q)) return path;
  const kept = path
    .slice(q + 1)
    .split('&')
    .filter((pair) => !pair.startsWith(`${HOPS_PARAM}=`) && !pair.startsWith(`${EPOCH_PARAM}=`));
  return kept.length === 0 ? path.slice(0, q) : `${path.slice(0, q)}?${kept.join('&')}`;
}

/** The owner's configured base URL joined with a path; a trailing slash on the base is not doubled. */
export function joinUrl(base: string, path: string): string {
  return base.charCodeAt(base.length - 1) === 47 ? base.slice(0, -1) + path : base + path;
}

/**
 * The Location of a redirect: the owner's configured URL + the original path and query, plus the hop count
 * and epoch as query parameters. Nothing but the path and query comes from the request (never the Host).
 */
export function redirectLocation(ownerUrl: string, url: string, hops: number, epoch: number): string {
  const path = stripRouteParams(url);
  const sep = path.includes('?') ? '&' : '?';
  return `${joinUrl(ownerUrl, path)}${sep}${HOPS_PARAM}=${hops}&${EPOCH_PARAM}=${epoch}`;
}

/** What a proxying node knows about the client connection, for the X-Forwarded-* headers. */
export interface ClientInfo {
  /** The peer address of the incoming socket. */
  remoteAddress: string | undefined;
  /** 'http' or 'https' as received by this node. */
  protocol: string;
}

/** A header value as one string (repeated headers joined), or undefined. */
const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Headers a proxying node adds: the hop count, X-Forwarded-For (appended to any the client request carried),
 * -Proto and -Host (what Fastify's `trustProxy` and Express's `trust proxy` read; RFC 7239's `Forwarded` would say
 * the same again), and the owners passed over (none: no header).
 */
export function proxyHeaders(
  headers: IncomingHttpHeaders,
  client: ClientInfo,
  hops: number,
  unreachable: readonly string[] = [],
): Record<string, string> {
  const host = single(headers.host);
  const address = client.remoteAddress ?? 'unknown';
  const forwardedFor = single(headers['x-forwarded-for']);
  const into: Record<string, string> = {
    'x-ringroute-hops': String(hops), // HOPS_HEADER, spelt out: a computed key in a literal takes V8's slow path
    'x-forwarded-for': forwardedFor ? `${forwardedFor}, ${address}` : address,
    'x-forwarded-proto': client.protocol,
  };
  if (host) into['x-forwarded-host'] = host;
  // A value the client sent never survives: endToEnd() drops it with the hop-by-hop headers.
  if (unreachable.length > 0) into[UNREACHABLE_HEADER] = unreachable.join(',');
  return into;
}

/** Owner ids named as unreachable by the proxying node (see UNREACHABLE_HEADER). */
export function readUnreachable(headers: IncomingHttpHeaders): string[] | undefined {
  const value = headers[UNREACHABLE_HEADER];
  return typeof value === 'string' && value.length > 0 ? value.split(',', 8) : undefined;
}

/** Connection-level headers (RFC 9110 §7.6.1): never forwarded, in either direction. */
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
  // Which owners this hop passed over: set afresh by each proxying node, never taken from its client.
  UNREACHABLE_HEADER,
]);

/** The end-to-end headers of a message: without the hop-by-hop ones, including those its Connection header names. */
export function endToEnd<V>(headers: Record<string, V | undefined>): Record<string, V> {
  const connection = typeof headers.connection === 'string' ? headers.connection.toLowerCase() : undefined;
  // The usual values name no other header: skip splitting them (this runs twice per proxied request).
  const named =
    connection === undefined || connection === 'keep-alive' || connection === 'close'
      ? undefined
      : connection.split(',').map((t) => t.trim());
  const out: Record<string, V> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && named?.includes(name) !== true) out[name] = value;
  }
  return out;
}
