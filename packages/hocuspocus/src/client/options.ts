import { checkKnownOptions, checkNumber, DEFAULT_MAX_HOPS, fail } from '@ringroute/ring-core';
import type { HocuspocusProviderWebsocketConfiguration } from '@hocuspocus/provider';
import type { FetchLike } from './ring-source.js';
import type { Backoff } from './routing.js';

/** Socket options passed to every per-node HocuspocusProviderWebsocket (reconnect delays, timeouts...). */
export type SocketOptions = Omit<
  Partial<HocuspocusProviderWebsocketConfiguration>,
  'url' | 'WebSocketPolyfill' | 'providerMap' | 'autoConnect'
>;

export interface SmartClientOptions {
  /** URLs of any cluster nodes (http(s):// or ws(s)://). The ring is fetched from the first that answers. */
  nodes: readonly string[];
  /** A WebSocket implementation where there is no global one (Node < 22: the `ws` package). */
  WebSocketPolyfill?: unknown;
  /** Moves allowed per document between two syncs before giving up with an `error` event. Default 3. */
  maxHops?: number;
  /** Delay between successive moves of a document (the first move is immediate). */
  backoff?: Partial<Backoff>;
  /** Timeout of one ring request, in ms. Default 5000. */
  ringTimeout?: number;
  /** A fetch implementation for the ring request (to add headers, for example). Default: the global fetch. */
  fetch?: FetchLike;
  /** Options for every per-node socket. */
  socket?: SocketOptions;
}

export interface ResolvedClientOptions {
  nodes: readonly string[];
  WebSocketPolyfill: unknown;
  maxHops: number;
  backoff: Backoff;
  ringTimeout: number;
  fetch: FetchLike;
  socket: SocketOptions;
}

const URL_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

const OPTIONS = Object.keys({
  nodes: 1,
  WebSocketPolyfill: 1,
  maxHops: 1,
  backoff: 1,
  ringTimeout: 1,
  fetch: 1,
  socket: 1,
} satisfies Record<keyof SmartClientOptions, 1>);

function checkNodeUrl(option: string, value: unknown): string {
  if (typeof value !== 'string' || !URL.canParse(value)) fail(option, `must be an absolute URL (got ${JSON.stringify(value)})`);
  if (!URL_SCHEMES.has(new URL(value).protocol)) fail(option, `must be an http(s):// or ws(s):// URL (got ${JSON.stringify(value)})`);
  return value;
}

type EmitterSocket = new (...args: never[]) => { on(event: 'error', listener: () => void): unknown };

/**
 * A browser WebSocket reports errors to `onerror` only; Node's `ws` also emits 'error', which throws when nobody
 * listens (the provider closes a socket still connecting when a connect attempt times out). Such a class gets a
 * listener, so a failed attempt never crashes the process.
 */
function browserLike(polyfill: unknown): unknown {
  const prototype = (polyfill as { prototype?: { on?: unknown } }).prototype;
  if (typeof prototype?.on !== 'function') return polyfill;
  return class extends (polyfill as EmitterSocket) {
    constructor(...args: never[]) {
      super(...args);
      this.on('error', () => {});
    }
  };
}

export function resolveClientOptions(options: SmartClientOptions): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object with a nodes array');
  checkKnownOptions(options, OPTIONS);
  if (!Array.isArray(options.nodes) || options.nodes.length === 0) fail('nodes', 'must be a non-empty array of node URLs');
  const nodes = options.nodes.map((url, i) => checkNodeUrl(`nodes[${i}]`, url));
  const polyfill = options.WebSocketPolyfill ?? globalThis.WebSocket;
  if (typeof polyfill !== 'function')
    fail('WebSocketPolyfill', 'must be a WebSocket constructor (there is no global WebSocket here; pass the `ws` package)');
  const maxHops =
    options.maxHops === undefined ? DEFAULT_MAX_HOPS : checkNumber('maxHops', options.maxHops, { min: 0, max: 100, integer: true });
  const backoffOptions = options.backoff ?? {};
  if (backoffOptions === null || typeof backoffOptions !== 'object') fail('backoff', 'must be an object { delay, factor, maxDelay }');
  checkKnownOptions(backoffOptions, ['delay', 'factor', 'maxDelay'], 'backoff');
  const delay = checkNumber('backoff.delay', backoffOptions.delay ?? 100, { min: 0, max: 600_000 });
  const backoff: Backoff = {
    delay,
    factor: checkNumber('backoff.factor', backoffOptions.factor ?? 2, { min: 1, max: 100 }),
    maxDelay: checkNumber('backoff.maxDelay', backoffOptions.maxDelay ?? Math.max(delay, 5000), { min: delay, max: 3_600_000 }),
  };
  const ringTimeout = options.ringTimeout === undefined ? 5000 : checkNumber('ringTimeout', options.ringTimeout, { min: 1, max: 600_000 });
  const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (typeof fetchImpl !== 'function') fail('fetch', 'must be a function (there is no global fetch here)');
  if (options.socket !== undefined && (options.socket === null || typeof options.socket !== 'object')) fail('socket', 'must be an object');
  return {
    nodes,
    WebSocketPolyfill: browserLike(polyfill),
    maxHops,
    backoff,
    ringTimeout,
    fetch: fetchImpl,
    socket: { ...options.socket },
  };
}
