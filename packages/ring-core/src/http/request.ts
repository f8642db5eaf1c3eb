import { checkOneOf, checkString, fail } from '../errors.js';
import { queryParam } from './query.js';

export type IncomingHttpHeaders = Record<string, string | string[] | undefined>;

/**
 * The parts of a request the router reads. Fastify and Express requests already have this shape, so adapters
 * pass their request object as is (no per-request copy).
 */
export interface RequestView {
  method: string;
  /** The path and query as the client sent them. */
  url: string;
  /** Express rewrites `url` under mounted routers; when present, this is used instead. */
  originalUrl?: string;
  headers: IncomingHttpHeaders;
  query?: unknown;
  params?: unknown;
  /** Parsed cookies (e.g. cookie-parser); when absent the Cookie header is parsed. */
  cookies?: unknown;
  /** The connection (Fastify and Express requests have it): its peer address goes into X-Forwarded-For when proxying. */
  socket?: { remoteAddress?: string | undefined; encrypted?: boolean };
  /** 'http' or 'https' as received (Fastify and Express requests have it). Default: 'https' on a TLS socket, else 'http'. */
  protocol?: string;
}

/** A function of the framework's request returning the routing key, or undefined/empty when there is none. */
export type KeyFunction<Req = RequestView> = (request: Req) => string | undefined | null;

export type KeyShorthand = `query:${string}` | `params:${string}` | `header:${string}` | `cookie:${string}`;

/** Where the key comes from: `'query:key'`, `'params:id'`, `'header:x-session-id'`, `'cookie:sid'` or a function. */
export type KeySource<Req = RequestView> = KeyShorthand | KeyFunction<Req>;

/** A compiled extractor; `describe` names the source in 400 answers (e.g. `query parameter "key"`). */
export interface KeyExtractor<Req = RequestView> {
  (request: Req): string | undefined;
  readonly describe: string;
  /** Where the key is read: picks the status of an over-long key (414 in the URI, 431 in a header). */
  readonly place: KeyPlace;
}

export type KeyPlace = 'query' | 'params' | 'header' | 'cookie' | 'function';

const KEY_PLACES = ['query', 'params', 'header', 'cookie'] as const;

const first = (value: unknown): string | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

const field = (record: unknown, name: string): unknown =>
  record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[name] : undefined;

/** One cookie's value from a Cookie header, percent-decoded when it is valid; no full parse per request. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/** Compiles a key source once, at construction; `option` names it in errors. */
export function compileKey<Req extends object = RequestView>(source: unknown, option = 'key'): KeyExtractor<Req> {
  if (typeof source === 'function') {
    const fn = source as KeyFunction<Req>;
    return Object.assign((request: Req) => first(fn(request)), { describe: 'key function', place: 'function' as const });
  }
  if (source === undefined)
    fail(
      option,
      'is required: where the routing key comes from, e.g. "query:key", "header:x-session-id", "cookie:sid", "params:id" or a function',
    );
  const spec = checkString(option, source);
  const colon = spec.indexOf(':');
  if (colon < 0)
    fail(option, `must be a function or "query:<name>", "params:<name>", "header:<name>" or "cookie:<name>" (got ${JSON.stringify(spec)})`);
  const place = checkOneOf(`${option} (source)`, spec.slice(0, colon), KEY_PLACES);
  const name = checkString(`${option} (name)`, spec.slice(colon + 1));
  const view = (request: Req) => request as unknown as RequestView;
  switch (place) {
    case 'query':
      return Object.assign((r: Req) => first(queryParam(view(r).originalUrl ?? view(r).url, name)), {
        describe: `query parameter "${name}"`,
        place,
      });
    case 'params':
      return Object.assign((r: Req) => first(field(view(r).params, name)), { describe: `path parameter "${name}"`, place });
    case 'header': {
      const lower = name.toLowerCase();
      return Object.assign((r: Req) => first(view(r).headers[lower]), { describe: `header "${lower}"`, place });
    }
    case 'cookie':
      return Object.assign(
        (r: Req) => {
          const { cookies, headers } = view(r);
          return cookies !== undefined && cookies !== null ? first(field(cookies, name)) : cookieValue(first(headers.cookie), name);
        },
        { describe: `cookie "${name}"`, place },
      );
  }
}
