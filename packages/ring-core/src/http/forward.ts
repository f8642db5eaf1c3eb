import type { IncomingHttpHeaders } from './request.js';

/** Hops a proxied request has made so far (set by the proxying node). */
export const HOPS_HEADER = 'x-ringroute-hops';
/** The sender's ring epoch, carried with every proxied request. */
export const EPOCH_HEADER = 'x-ringroute-epoch';
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

/** What a proxying node knows about the client connection, for the Forwarded / X-Forwarded-* headers. */
export interface ClientInfo {
  /** The peer address of the incoming socket. */
  remoteAddress: string | undefined;
  /** 'http' or 'https' as received by this node. */
  protocol: string;
}

const forwardedNode = (address: string | undefined) =>
  address === undefined ? 'unknown' : address.includes(':') ? `"[${address}]"` : address;

/** A header value as one string (repeated headers joined), or undefined. */
const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Headers a proxying node adds: the hop count and epoch, and Forwarded / X-Forwarded-* appended to any the
 * client request already carried (RFC 7239). Written into `target` when given (e.g. the proxy library's own copy of
 * the request headers) so the proxy path copies no header set twice.
 */
export function proxyHeaders(
  headers: IncomingHttpHeaders,
  client: ClientInfo,
  hops: number,
  epoch: number,
  unreachable: readonly string[] = [],
  target?: Record<string, unknown>,
): Record<string, unknown> {
  const into = target ?? {};
  const host = single(headers.host);
  const address = client.remoteAddress ?? 'unknown';
  let element = `for=${forwardedNode(client.remoteAddress)};proto=${client.protocol}`;
  if (host) element += `;host="${host.includes('"') || host.includes('\\') ? host.replace(/["\\]/g, '') : host}"`;
  const forwarded = single(headers.forwarded);
  const forwardedFor = single(headers['x-forwarded-for']);
  into[HOPS_HEADER] = String(hops);
  into[EPOCH_HEADER] = String(epoch);
  into.forwarded = forwarded ? `${forwarded}, ${element}` : element;
  into['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${address}` : address;
  into['x-forwarded-proto'] = client.protocol;
  if (host) into['x-forwarded-host'] = host;
  // A value the client sent must not survive: removed from a target header set, else overridden with ''.
  if (unreachable.length > 0) into[UNREACHABLE_HEADER] = unreachable.join(',');
  else if (target) delete into[UNREACHABLE_HEADER];
  else into[UNREACHABLE_HEADER] = '';
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
]);

/** The end-to-end headers of a message: without the hop-by-hop ones, including those its Connection header names. */
export function endToEnd<V>(headers: Record<string, V | undefined>): Record<string, V> {
  const connection = headers.connection;
  const named = typeof connection === 'string' ? connection.toLowerCase().split(',').map((t) => t.trim()) : [];
  const out: Record<string, V> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value;
  }
  return out;
}
