import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import { endToEnd } from '../http/forward.js';
import type { ProxyTimeouts } from '../http/options.js';
import type { HttpAnswer } from '../http/answers.js';
import type { AttemptResult } from '../http/types.js';
import { sendAnswer } from './answer.js';
import { bodyHeaders, forwardBody, type ParsedRequest } from './body.js';

/**
 * Streams a request to an upstream and the response back, through one undici connection pool per adapter: the
 * proxy both HTTP adapters use for `router.proxyWithFallback`. undici's `stream()` writes the owner's body straight
 * into the response, with no intermediate readable. The request body is read only when the upstream connection
 * asks for it, and a failed attempt detaches from it instead of destroying it, so the client can still be answered
 * (or the request tried on the next candidate).
 */
export class Forwarder {
  private readonly agent: Agent;

  constructor(timeouts: Required<ProxyTimeouts>) {
    this.agent = new Agent({ connectTimeout: timeouts.connect, headersTimeout: timeouts.response, bodyTimeout: timeouts.response });
  }

  /**
   * One attempt of ring-core's proxy loop: `url` is the owner's URL joined with the request path, `added` the
   * forwarding headers. Headers already set on `res` (by the app's earlier middleware or hooks) stay, under the
   * owner's.
   */
  async forward(req: IncomingMessage, res: ServerResponse, url: string, added: Record<string, string>): Promise<AttemptResult> {
    // `url` is a node URL (validated as http(s)) joined with an origin-form path: split it without a URL parser.
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    // A body parser (express.json() & co) may have read the stream: then its value is sent re-serialised.
    const forwarded = forwardBody(req as ParsedRequest);
    const headers = bodyHeaders(Object.assign(endToEnd(req.headers), added), forwarded);
    const lazy = forwarded.kind === 'stream' ? new LazyBody(req) : undefined;
    const body = forwarded.kind === 'bytes' ? forwarded.bytes : lazy;
    let responded = false;
    try {
      await this.agent.stream(
        { origin: url.slice(0, slash), path: url.slice(slash), method: req.method as 'GET', headers, body },
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

  /** Sends the answer when no candidate took the request; a body no upstream read is not drained but closes the connection. */
  fail(req: IncomingMessage, res: ServerResponse, answer: HttpAnswer): void {
    if (!req.complete) res.setHeader('connection', 'close');
    sendAnswer(res, answer);
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
