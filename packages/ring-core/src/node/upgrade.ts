import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpAnswer } from '../http/answers.js';
import { endToEnd } from '../http/forward.js';
import { DEFAULT_PROXY_TIMEOUTS, type ProxyTimeouts } from '../http/options.js';
import type { AttemptResult } from '../http/types.js';

/** How one upgrade attempt ended: `error` = nothing reached the client socket, so it can still be answered. */
export type UpgradeResult = AttemptResult;

/**
 * Forwards an upgrade request (WebSocket handshake) to `targetUrl` (http(s):// or ws(s)://, path and query
 * included) with the client's end-to-end headers plus `headers`. On the owner's 101 its status line and headers
 * go back verbatim and both sockets are piped, so frames, pings and close codes pass untouched; any other answer
 * of the owner (401, 404, 421, ...) is relayed as is. Resolves `{ sent: false, error }` when the owner could not
 * be reached: the caller may try another node or answer the socket (`writeUpgradeAnswer`, e.g. 502/503).
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  targetUrl: string,
  headers: Record<string, string | string[]>,
  timeouts: ProxyTimeouts = {},
): Promise<UpgradeResult> {
  const connect = timeouts.connect ?? DEFAULT_PROXY_TIMEOUTS.connect;
  const response = timeouts.response ?? DEFAULT_PROXY_TIMEOUTS.response;
  const url = new URL(targetUrl);
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const outgoing = { ...endToEnd(req.headers), ...headers, connection: 'Upgrade', upgrade: req.headers.upgrade ?? 'websocket' };
  return new Promise((resolve) => {
    const upstream = (secure ? httpsRequest : httpRequest)({
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: url.pathname + url.search,
      method: req.method,
      headers: outgoing,
      agent: false,
    });
    let settled = false;
    const settle = (result: UpgradeResult) => {
      if (settled) return;
      settled = true;
      socket.off('close', onClientClose);
      resolve(result);
    };
    guard(socket);
    // The client gave up before the owner answered: nothing is left to answer.
    const onClientClose = () => {
      settle({ sent: true });
      upstream.destroy();
    };
    socket.once('close', onClientClose);
    // One idle timer: `connect` until the connection opens, then `response` until the owner answers.
    let waiting = `connecting to ${url.host}`;
    let limit = connect;
    upstream.setTimeout(connect, () => upstream.destroy(timeoutError(waiting, limit)));
    upstream.once('socket', (s: Socket) =>
      s.once('connect', () => {
        waiting = `the handshake answer of ${url.host}`;
        limit = response;
        upstream.setTimeout(response);
      }),
    );
    upstream.once('error', (error) => settle({ sent: false, error }));
    upstream.once('upgrade', (answer, upSocket, upHead) => {
      if (settled) return void upSocket.destroy();
      upSocket.setTimeout(0);
      socket.write(statusLine(answer) + rawHeaderLines(answer.rawHeaders) + '\r\n');
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      join(socket, upSocket);
      settle({ sent: true });
    });
    upstream.once('response', (answer) => {
      if (settled) return void answer.destroy();
      // Relayed close-delimited: Node already decoded a chunked body, so no length or transfer coding is kept.
      const kept = endToEnd(answer.headers);
      delete kept['content-length'];
      socket.write(statusLine(answer) + headerLines({ ...kept, connection: 'close' }) + '\r\n');
      answer.pipe(socket);
      answer.once('error', () => socket.destroy());
      settle({ sent: true });
    });
    upstream.end();
  });
}

/**
 * Writes a complete HTTP answer (a refusal such as 421 with the owner, a redirect, a 503) onto the raw socket of
 * an upgrade request that was not handshaken, then closes it.
 */
export function writeUpgradeAnswer(socket: Duplex, answer: HttpAnswer): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  guard(socket);
  const body = Buffer.from(answer.body);
  const lines = headerLines({ ...answer.headers, 'content-length': String(body.length), connection: 'close' });
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${lines}\r\n`), body]));
}

/** Pipes both ways; an error or an abrupt close on one side destroys the other, a clean end is passed on. */
function join(client: Duplex, upstream: Socket): void {
  if ('setNoDelay' in client) (client as Socket).setNoDelay(true);
  upstream.setNoDelay(true);
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', destroyBoth);
  upstream.on('error', destroyBoth);
  client.once('close', () => (client.readableEnded ? upstream.end() : upstream.destroy()));
  upstream.once('close', () => (upstream.readableEnded ? client.end() : client.destroy()));
  client.pipe(upstream);
  upstream.pipe(client);
}

function destroySelf(this: Duplex): void {
  this.destroy();
}

/** Node removes its own error listener before 'upgrade': an unguarded socket error would crash the process. */
function guard(socket: Duplex): void {
  if (!socket.listeners('error').includes(destroySelf)) socket.on('error', destroySelf);
}

const statusLine = (answer: IncomingMessage) => `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage ?? ''}\r\n`;

function rawHeaderLines(raw: string[]): string {
  let out = '';
  for (let i = 0; i + 1 < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out;
}

/** Header lines; a value with a line break (e.g. from an onProxyError hook) is dropped rather than split. */
function headerLines(headers: Record<string, string | string[]>): string {
  let out = '';
  for (const [name, value] of Object.entries(headers))
    for (const v of [value].flat()) if (!/[\r\n]/.test(v) && !/[\r\n:]/.test(name)) out += `${name}: ${v}\r\n`;
  return out;
}

function timeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`ringroute: ${what} took longer than ${ms} ms`), { code: 'ETIMEDOUT' });
}
