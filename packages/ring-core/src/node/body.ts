import type { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders } from '../http/request.js';

/** A request as a body parser may leave it: `body` set (express.json() & co, a Fastify content-type parser). */
export type ParsedRequest = IncomingMessage & { body?: unknown };

/**
 * What a proxy forwards as the request body:
 * - `none`: the request has no body;
 * - `stream`: nothing consumed it, pipe the request itself (never buffered);
 * - `bytes`: a parser consumed the stream, these are its value re-serialised (send with `bodyHeaders`).
 */
export type ForwardBody = { kind: 'none' } | { kind: 'stream' } | { kind: 'bytes'; bytes: Buffer; contentType: string };

const NONE: ForwardBody = Object.freeze({ kind: 'none' });
const STREAM: ForwardBody = Object.freeze({ kind: 'stream' });

/** Thrown when the stream was consumed and the parsed value cannot be turned back into bytes. */
export class BodyConsumedError extends Error {
  override readonly name = 'BodyConsumedError';
}

/** true when the request headers announce a body (a length above 0 or a chunked transfer). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The body to forward for `req`, like http-proxy-middleware's fixRequestBody: when the stream is still unread it
 * is piped as is; when a parser read it to the end, `req.body` is re-serialised by its content type (JSON,
 * urlencoded, text, raw Buffer). Throws BodyConsumedError when the stream is gone and `req.body` cannot be encoded.
 */
export function forwardBody(req: ParsedRequest): ForwardBody {
  if (!hasBody(req.headers)) return NONE;
  // Unread bytes still buffered, or an unended stream: nobody consumed it.
  if (!req.readableEnded || req.readableLength > 0) return STREAM;
  const { body } = req;
  const contentType = req.headers['content-type'] ?? 'application/octet-stream';
  const type = mediaType(contentType);
  if (Buffer.isBuffer(body)) return { kind: 'bytes', bytes: body, contentType };
  if (typeof body === 'string') return textBody(body, contentType);
  if (body !== null && typeof body === 'object') {
    if (type === 'application/json' || type.endsWith('+json'))
      return { kind: 'bytes', bytes: Buffer.from(JSON.stringify(body)), contentType };
    if (type === 'application/x-www-form-urlencoded') return { kind: 'bytes', bytes: Buffer.from(formEncode(body)), contentType };
  }
  throw new BodyConsumedError(
    `the request body (${type}) was read by a body parser and cannot be re-serialised: mount the RingRoute middleware before that parser to proxy it`,
  );
}

/**
 * The request headers to forward with a re-serialised body: the length of the new bytes, and none of the
 * headers that described the consumed stream (chunked transfer, a content encoding the parser already undid).
 * Returns the same headers object for `none` and `stream`.
 */
export function bodyHeaders<H extends Record<string, unknown>>(headers: H, body: ForwardBody): H {
  if (body.kind !== 'bytes') return headers;
  const out: Record<string, unknown> = { ...headers, 'content-length': String(body.bytes.length), 'content-type': body.contentType };
  delete out['transfer-encoding'];
  delete out['content-encoding'];
  return out as H;
}

function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Charsets Node encodes itself; others are re-encoded as UTF-8 and the content type says so. */
const ENCODINGS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'us-ascii': 'latin1',
  ascii: 'latin1',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'utf-16le': 'utf16le',
};

function textBody(text: string, contentType: string): ForwardBody {
  const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType)?.[1]?.toLowerCase();
  const encoding = charset === undefined ? 'utf8' : ENCODINGS[charset];
  if (encoding !== undefined) return { kind: 'bytes', bytes: Buffer.from(text, encoding), contentType };
  return { kind: 'bytes', bytes: Buffer.from(text, 'utf8'), contentType: `${mediaType(contentType)}; charset=utf-8` };
}

/**
 * `application/x-www-form-urlencoded` for what `querystring` (flat) or `qs` (nested, `extended: true`) parsed:
 * nested values in bracket notation (`a[b]=1`, `list[0]=x`), which both parse back to the same value.
 */
export function formEncode(value: object): string {
  const pairs: string[] = [];
  const add = (name: string, v: unknown): void => {
    if (v === undefined) return;
    if (v !== null && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) add(`${name}[${k}]`, inner);
      return;
    }
    pairs.push(`${encode(name)}=${encode(v === null ? '' : String(v))}`);
  };
  for (const [name, v] of Object.entries(value)) {
    // Repeated names parse back to an array in both parsers once there are two; one element needs qs's brackets.
    if (Array.isArray(v) && v.length > 1 && v.every((item) => item === null || typeof item !== 'object'))
      for (const item of v) add(name, item);
    else add(name, v);
  }
  return pairs.join('&');
}

const encode = (text: string) => encodeURIComponent(text).replace(/%20/g, '+');
