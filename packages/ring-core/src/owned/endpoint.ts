import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorAnswer, jsonAnswer, type HttpAnswer } from '../http/answers.js';
import { readLimited } from '../http/read.js';
import type { MessageSigner } from '../membership/types.js';
import { decodePull, decodePush, type Envelope, type Pull, type PullAnswer, type Push, type PushAnswer } from './frame.js';
import { PULL_PATH, PUSH_PATH, SIGNATURE_HEADER, signAnswer, verifyRequest } from './transport.js';
import type { KeyCustody } from './types.js';

/** Requests whose sender clock is further than this from ours are refused: a captured transfer cannot be replayed later. */
const REPLAY_WINDOW = 60_000;

/** What the endpoint hands its requests to (the engine, once this node keeps owned state). */
export interface EndpointHandlers {
  push(push: Push): Promise<PushAnswer>;
  pull(pull: Pull): Promise<PullAnswer>;
  /** A key's custody here. */
  describe(key: string): Promise<KeyCustody>;
  readonly maxBatchBytes: number;
}

/**
 * The receiving side of transfers, on the app's own HTTP server: `POST <prefix>/api/routes/handoff` (a push of
 * keys), `POST <prefix>/api/routes/handoff/pull` (a request for one key now) and `GET <prefix>/api/routes/handoff?key=`
 * (a key's custody here). Bodies are size-limited, signed with the cluster secret when the membership has one, and
 * fresh; answers are signed and bound to their request.
 */
export class Endpoint {
  private readonly push: string;
  private readonly pull: string;

  constructor(
    prefix: string,
    private readonly signer: MessageSigner | undefined,
    /** undefined while this node keeps no owned state: it answers 404, so the others stop asking it. */
    private readonly handlers: () => EndpointHandlers | undefined,
  ) {
    this.push = prefix + PUSH_PATH;
    this.pull = prefix + PULL_PATH;
  }

  /** Whether a request is for this endpoint (`path` without the query). */
  matches(method: string, path: string): boolean {
    if (path === this.pull) return method === 'POST';
    return path === this.push && (method === 'POST' || method === 'GET' || method === 'HEAD');
  }

  /** Answers a matched request on the raw Node request and response. Never rejects. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: HttpAnswer;
    try {
      answer = await this.answer(req);
    } catch (error) {
      answer = errorAnswer(500, 'Internal Server Error', 'handoff-failed', (error as Error).message);
    }
    if (res.headersSent) return;
    res.writeHead(answer.status, answer.headers).end(answer.body);
  }

  private async answer(req: IncomingMessage): Promise<HttpAnswer> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handlers = this.handlers();
    if (handlers === undefined || req.method !== 'POST') req.resume();
    if (handlers === undefined) return errorAnswer(404, 'Not Found', 'no-owned-state', 'this node keeps no owned state');
    if (req.method !== 'POST') {
      const key = url.searchParams.get('key');
      if (!key) return errorAnswer(400, 'Bad Request', 'missing-key', 'query parameter "key" is required');
      return jsonAnswer(200, await handlers.describe(key));
    }
    const body = await readLimited(req, handlers.maxBatchBytes);
    if (body === 'too-large')
      return errorAnswer(
        413,
        'Payload Too Large',
        'transfer-too-large',
        `transfers are limited to ${handlers.maxBatchBytes} bytes (state.maxBatchBytes)`,
      );
    if (body === 'failed') return errorAnswer(400, 'Bad Request', 'malformed', 'the transfer could not be read');
    const signature = req.headers[SIGNATURE_HEADER];
    if (!verifyRequest(this.signer, url.pathname, body, typeof signature === 'string' ? signature : undefined))
      return errorAnswer(401, 'Unauthorized', 'signature', 'transfers must be signed with the cluster secret');
    let request: Push | Pull;
    try {
      request = url.pathname === this.pull ? decodePull(body) : decodePush(body);
    } catch (error) {
      return errorAnswer(400, 'Bad Request', 'malformed', (error as Error).message);
    }
    if (Math.abs(Date.now() - request.sentAt) > REPLAY_WINDOW)
      return errorAnswer(401, 'Unauthorized', 'stale', 'the transfer was sent too long ago (or the clocks disagree by more than a minute)');
    const result = 'entries' in request ? await handlers.push(request) : await handlers.pull(request);
    return this.signed(request, jsonAnswer(200, result));
  }

  private signed(request: Envelope, answer: HttpAnswer): HttpAnswer {
    const signature = signAnswer(this.signer, request.id, answer.body);
    if (signature !== undefined) answer.headers[SIGNATURE_HEADER] = signature;
    return answer;
  }
}
