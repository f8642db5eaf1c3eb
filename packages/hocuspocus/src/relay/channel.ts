import { EventEmitter } from 'node:events';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { returnsClientConnection, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ChannelRequest } from './envelope.js';

/** One client connection to one document address, served by the local Hocuspocus. */
export interface Channel {
  /** Hands a client frame to Hocuspocus. */
  push(frame: Uint8Array): void;
  /** The client side went away (or was re-pointed): Hocuspocus runs its disconnect hooks. */
  close(): void;
}

export interface ChannelEvents {
  /** A frame Hocuspocus sends to the client. */
  deliver(frame: Uint8Array): void;
  /** Hocuspocus closed the socket itself (bad frames, timeouts). */
  closed(code: number, reason: string): void;
}

const OPEN = 1;
const CLOSED = 3;

/**
 * The socket Hocuspocus sees for a channel: 3.4 listens to its `message`/`close`/`pong` events and calls
 * `send(data, callback)`, `ping()` and `close(code, reason)`; 4.x only calls `send`, `close` and reads
 * `readyState`. Liveness is the real socket's business (the client's, or the node link's), so a ping is
 * answered at once.
 */
class VirtualSocket extends EventEmitter {
  readyState = OPEN;
  binaryType = 'nodebuffer';

  constructor(private readonly events: ChannelEvents) {
    super();
    this.setMaxListeners(Number.POSITIVE_INFINITY);
  }

  send(data: Uint8Array, callback?: (error?: Error) => void): void {
    if (this.readyState === OPEN) this.events.deliver(data);
    callback?.();
  }

  ping(): void {
    queueMicrotask(() => this.emit('pong'));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.events.closed(code, reason);
  }

  /** The client side ends: no more frames either way. */
  end(): void {
    this.readyState = CLOSED;
  }
}

/** Hop-by-hop and handshake headers: they describe the client's socket, not the client. */
const NOT_FORWARDED = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'content-length',
  'proxy-authorization',
  'proxy-connection',
]);

/**
 * What the owner is told about a relayed client: its URL (path and query) and its end-to-end headers, cookie
 * and authorization included, so onConnect/onAuthenticate see what a direct connection would show them;
 * `x-forwarded-for` gains the client's address.
 */
export function channelRequest(request: IncomingMessage): ChannelRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || NOT_FORWARDED.has(name) || name.startsWith('sec-websocket-')) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const client = request.socket.remoteAddress;
  if (client) headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${client}` : client;
  return { url: request.url ?? '/', headers };
}

/** The request object handleConnection expects: an IncomingMessage (3.4) or a Fetch Request (4.x). */
function hocuspocusRequest(fetchStyle: boolean, request: ChannelRequest | IncomingMessage): unknown {
  if (request instanceof IncomingMessage) {
    if (!fetchStyle) return request;
    request = channelRequest(request);
  }
  if (fetchStyle) return new Request(`http://${request.headers.host ?? 'localhost'}${request.url}`, { headers: request.headers });
  return Object.assign(new IncomingMessage(new Socket()), { url: request.url, method: 'GET', headers: request.headers });
}

/** Opens a connection on the local Hocuspocus for one channel (one client, one document address). */
export function openChannel(instance: HocuspocusLike, request: ChannelRequest | IncomingMessage, events: ChannelEvents): Channel {
  const socket = new VirtualSocket(events);
  const fetchStyle = returnsClientConnection(instance);
  const connection = instance.handleConnection(socket, hocuspocusRequest(fetchStyle, request)) as
    { handleMessage(data: Uint8Array): void; handleClose(event?: { code: number; reason: string }): void } | undefined;
  return {
    push: (frame) => {
      if (socket.readyState !== OPEN) return;
      if (connection) connection.handleMessage(frame);
      else socket.emit('message', frame);
    },
    close: () => {
      if (socket.readyState === CLOSED) return;
      socket.end();
      if (connection) connection.handleClose({ code: 1000, reason: 'relay closed' });
      else socket.emit('close', 1000, Buffer.from('relay closed'));
    },
  };
}
