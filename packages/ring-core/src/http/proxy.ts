import type { NodeView } from './answers.js';
import type { IncomingHttpHeaders } from './request.js';

/** What `onProxyError` is told. */
export interface ProxyErrorInfo {
  error: Error;
  key: string;
  method: string;
  /** The path and query that was forwarded. */
  url: string;
  /** The owner the request was meant for. */
  owner: NodeView | undefined;
  /** Every node tried, in order. */
  tried: readonly string[];
  epoch: number;
}

/** Idempotent methods (RFC 9110) may be retried on the next candidate; the others fail fast with 503. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Retry only when nothing could have reached the upstream: an idempotent method without a streamed body. */
export function canRetry(method: string, headers: IncomingHttpHeaders): boolean {
  if (!IDEMPOTENT.has(method)) return false;
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  return length === undefined || length === '0';
}

/** Most candidates tried for one request (the owner plus two fallbacks). */
export const MAX_PROXY_ATTEMPTS = 3;

/** Network-level failures where the upstream never answered (worth trying the next candidate). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** true when the error (or one of its causes: proxy libraries wrap them) says the upstream could not be reached. */
export function isUnreachable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  }
  return false;
}

/** Timeouts also count against a node for passive health (not retried: the request may have reached it). */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** true when the error counts against the node for passive health: it could not be reached, or it timed out. */
export function countsAgainst(error: unknown): boolean {
  if (isUnreachable(error)) return true;
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return true;
  }
  return false;
}
