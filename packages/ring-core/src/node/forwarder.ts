import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import { endToEnd } from '../http/forward.js';
import type { ProxyTimeouts } from '../http/options.js';
import type { RingRouter } from '../http/router.js';
import type { AttemptResult, ProxyPlan } from '../http/types.js';
import { sendAnswer } from './answer.js';
import { bodyHeaders, forwardBody, type ParsedRequest } from './body.js';

/** Where proxy failures are logged, `(details, message)` like pino or `console`: failed attempts at warn, the final failure at error. */
export interface ForwardLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

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
   * Proxies a request `router.handle()` planned to proxy, through the router's one proxy loop (owner first, next
   * candidates while that is safe, ejected nodes skipped); when no candidate took it, the router's proxy-failed
   * answer (503 + Retry-After, or `onProxyError`'s) is sent. Rejects only if `onProxyError` throws.
   */
  async proxy<Req extends object>(
    router: RingRouter<Req>,
    plan: ProxyPlan,
    req: IncomingMessage,
    res: ServerResponse,
    logger: ForwardLogger,
  ): Promise<void> {
    const failed = await router.proxyWithFallback(plan, (url, headers) => this.forward(req, res, url, headers), logger);
    if (failed === undefined) return;
    logger.error({ err: failed.error, tried: failed.tried }, 'ringroute: proxying failed');
    // A body no upstream read is not drained: the connection is closed instead.
    if (!req.complete) res.setHeader('connection', 'close');
    sendAnswer(res, failed.answer);
  }

  /**
   * One attempt of the proxy loop: `url` is the owner's URL joined with the request path, `added` the
   * forwarding headers. Headers already set on `res` (by the app's earlier middleware or hooks) stay, under the
   * owner's.
   */
  private async forward(req: IncomingMessage, res: ServerResponse, url: string, added: Record<string, string>): Promise<AttemptResult> {
    // `url` is a validated absolute node URL joined with an origin-form path: split it without a URL parser.
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
