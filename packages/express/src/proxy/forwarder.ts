import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { checkNumber, fail } from '@ringroute/ring-core';
import { endToEnd, type AttemptResult } from '@ringroute/ring-core/http';
import { bodyHeaders, forwardBody, type ParsedRequest } from '@ringroute/ring-core/node';
import { Agent } from 'undici';

export interface ProxyTimeouts {
  /** ms to open a connection to the owner before trying the next candidate. Default 2000. */
  connect?: number;
  /** ms to wait for the owner's response headers, and between body chunks. Default 30000. */
  response?: number;
}

/** Validates the `proxyTimeouts` option (errors name it) and fills in the defaults. */
export function resolveProxyTimeouts(value: ProxyTimeouts | undefined): Required<ProxyTimeouts> {
  if (value === undefined) return { connect: 2000, response: 30_000 };
  if (value === null || typeof value !== 'object') fail('proxyTimeouts', 'must be an object { connect?, response? }');
  const ms = (name: keyof ProxyTimeouts, fallback: number) =>
    value[name] === undefined ? fallback : checkNumber(`proxyTimeouts.${name}`, value[name], { min: 1, max: 3_600_000, integer: true });
  return { connect: ms('connect', 2000), response: ms('response', 30_000) };
}

/**
 * Streams the request to an upstream and the response back, through one undici connection pool per middleware.
 * The request body is read only when the upstream connection asks for it, and a failed attempt detaches from it
 * instead of destroying it, so the client can still be answered (or the request tried on the next candidate).
 */
export class Forwarder {
  private readonly agent: Agent;

  constructor(timeouts: Required<ProxyTimeouts>) {
    this.agent = new Agent({ connectTimeout: timeouts.connect, headersTimeout: timeouts.response, bodyTimeout: timeouts.response });
  }

  /** One attempt of ring-core's proxy loop: `url` is the owner's URL joined with the request path. */
  async forward(req: IncomingMessage, res: ServerResponse, url: string, extraHeaders: Record<string, string>): Promise<AttemptResult> {
    const target = new URL(url);
    // A body parser (express.json() & co) may have read the stream: then its value is sent re-serialised.
    const forwarded = forwardBody(req as ParsedRequest);
    const headers = bodyHeaders(Object.assign(endToEnd(req.headers), extraHeaders), forwarded);
    const lazy = forwarded.kind === 'stream' ? new LazyBody(req) : undefined;
    const body = forwarded.kind === 'bytes' ? forwarded.bytes : lazy;
    let responded = false;
    try {
      await this.agent.stream(
        { origin: target.origin, path: target.pathname + target.search, method: req.method as 'GET', headers, body },
        ({ statusCode, headers: upstream }) => {
          responded = true;
          res.writeHead(statusCode, endToEnd(upstream));
          return res;
        },
      );
      return { sent: true };
    } catch (error) {
      if (responded) {
        // The status line is out: the only honest signal left is a cut connection.
        res.destroy(error as Error);
        return { sent: true };
      }
      lazy?.release();
      return { sent: false, error: error as Error };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Pipes the incoming request only once the upstream reads; destroying it (as undici does on error) spares the source. */
class LazyBody extends Readable {
  private started = false;
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (error: Error) => this.destroy(error);

  constructor(private readonly source: IncomingMessage) {
    super();
  }

  override _read(): void {
    if (this.started) {
      this.source.resume();
      return;
    }
    this.started = true;
    this.source.on('data', this.onData).once('end', this.onEnd).once('error', this.onError);
  }

  /** Detaches from the request and drains what is left of it, so the client can still be answered. */
  release(): void {
    this.source.off('data', this.onData).off('end', this.onEnd).off('error', this.onError);
    if (this.started) this.source.resume();
  }
}
