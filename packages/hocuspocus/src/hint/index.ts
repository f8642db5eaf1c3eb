/**
 * The redirect hint: how a SmartRoute server tells a client which node owns a document.
 *
 * Browsers do not follow redirects on a WebSocket upgrade, and one socket carries many documents, so the
 * redirect travels in-band, per document, in the `reason` of a Hocuspocus refusal:
 *
 * - a misrouted document is refused in `onConnect` / `onLoadDocument`; the provider receives the reason
 *   through `onAuthenticationFailed({ reason })`;
 * - a document that migrates away while open is closed with the reason; the provider receives it
 *   through `onClose({ event: { reason } })`.
 *
 * Wire format: `ringroute:redirect:` followed by the JSON of a {@link RedirectHint}, e.g.
 * `ringroute:redirect:{"documentName":"doc-1","ownerId":"node-2","ownerUrl":"ws://10.0.0.2:8000","epoch":7,"hops":1}`.
 *
 * Other reasons SmartRoute refuses with (no hint, the client should retry later or give up):
 * - {@link MISROUTED_REASON}: the document belongs to another node and `redirectOnMisroute` is off;
 * - {@link UNAVAILABLE_REASON}: no node can take the document right now (no routable owner, too many hops).
 *
 * The ring endpoint: every SmartRoute node answers `GET /api/routes/ring` ({@link RING_PATH}) with
 * `ring.toJSON()` (a ring-core `RingSnapshotJSON`; node `url`s are the nodes' WebSocket URLs), with CORS
 * headers (`Access-Control-Allow-Origin: *`) so a page on another origin can fetch it. A client recreates
 * the ring with `ringFromJSON()` and computes owners locally.
 *
 * Hops: a client may pass the number of redirects it has followed for a socket as the URL parameter
 * {@link HOPS_PARAMETER}; the hint's `hops` is that count plus one, and a server refuses with
 * {@link UNAVAILABLE_REASON} instead of redirecting once the count reaches its maximum.
 *
 * This module is browser-safe: no Node built-ins, no dependencies.
 */

/** Prefix of a refusal reason that carries a redirect hint. */
export const REDIRECT_PREFIX = 'ringroute:redirect:';
/** Refusal without a hint: another node owns the document and the server does not redirect. */
export const MISROUTED_REASON = 'ringroute:misrouted';
/** Refusal without a hint: no node can take the document right now; retry later. */
export const UNAVAILABLE_REASON = 'ringroute:unavailable';
/** The ring endpoint every SmartRoute node serves (GET, CORS-enabled): `ring.toJSON()`. */
export const RING_PATH = '/api/routes/ring';
/** Optional WebSocket URL parameter: redirects the client has followed so far. */
export const HOPS_PARAMETER = 'ringroute-hops';

export interface RedirectHint {
  /** The refused document. */
  documentName: string;
  /** Id of the node that owns the document. */
  ownerId: string;
  /** The owner's WebSocket URL (ws:// or wss://), from its configuration, never from a request. */
  ownerUrl: string;
  /** Epoch of the ring the refusing server decided with; a client with an older ring should refetch it. */
  epoch: number;
  /** Redirects made so far, including this one. */
  hops: number;
}

/** The refusal reason carrying `hint`. */
export function encodeRedirectHint(hint: RedirectHint): string {
  const { documentName, ownerId, ownerUrl, epoch, hops } = hint;
  return REDIRECT_PREFIX + JSON.stringify({ documentName, ownerId, ownerUrl, epoch, hops });
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function isWebSocketUrl(value: unknown): value is string {
  if (!isText(value)) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'ws:' || protocol === 'wss:';
  } catch {
    return false;
  }
}

/** The hint in a refusal or close reason, or undefined for any other reason (including malformed hints). */
export function parseRedirectHint(reason: unknown): RedirectHint | undefined {
  if (typeof reason !== 'string' || !reason.startsWith(REDIRECT_PREFIX)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(reason.slice(REDIRECT_PREFIX.length));
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object') return undefined;
  const { documentName, ownerId, ownerUrl, epoch, hops } = data as Record<string, unknown>;
  if (!isText(documentName) || !isText(ownerId) || !isWebSocketUrl(ownerUrl) || !isCount(epoch) || !isCount(hops)) return undefined;
  return { documentName, ownerId, ownerUrl, epoch, hops };
}
