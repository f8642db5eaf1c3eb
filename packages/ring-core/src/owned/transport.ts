import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { joinUrl } from '../http/forward.js';
import type { MessageSigner } from '../membership/types.js';
import {
  decodePullAnswer,
  decodePushAnswer,
  encodePush,
  WIRE_VERSION,
  type Envelope,
  type PullAnswer,
  type PushAnswer,
  type PushEntry,
} from './frame.js';

/** Where a node takes transfers (under the router's `prefix`, the same on every node). */
export const PUSH_PATH = '/api/routes/handoff';
export const PULL_PATH = `${PUSH_PATH}/pull`;
export const SIGNATURE_HEADER = 'x-ringroute-signature';

/** Domain separation: a transfer's signature is never valid as anything else's (membership messages included). */
const REQUEST = 'ringroute-handoff/1 request';
const ANSWER = 'ringroute-handoff/1 answer';

export const signRequest = (signer: MessageSigner | undefined, path: string, body: Uint8Array) =>
  signer?.signed ? signer.sign([REQUEST, path, body]) : undefined;
export const verifyRequest = (signer: MessageSigner | undefined, path: string, body: Uint8Array, signature: string | undefined) =>
  signer === undefined || signer.verify([REQUEST, path, body], signature);
/** Answers are bound to the request they answer (its id), so an old 'accepted' cannot be replayed. */
export const signAnswer = (signer: MessageSigner | undefined, id: string, body: string) =>
  signer?.signed ? signer.sign([ANSWER, id, body]) : undefined;

/** Why a pull got no answer: nobody listens there, it keeps no owned state (404), or anything else (timeout, 5xx). */
export type PullFailure = { failure: 'unreachable' | 'stateless' | 'failed'; error: Error };

/** The client side of transfers: signed requests to another node's handoff endpoint over one connection pool. */
export class Transport {
  private readonly agent: Agent;

  constructor(
    private readonly self: string,
    private readonly prefix: string,
    private readonly signer: MessageSigner | undefined,
    timeout: number,
  ) {
    this.agent = new Agent({ connectTimeout: Math.min(timeout, 5000), headersTimeout: timeout, bodyTimeout: timeout });
  }

  /** Sends keys to `url`; resolves with the receiver's answer per key, rejects when there is none. */
  async push(url: string, token: number, entries: readonly PushEntry[]): Promise<PushAnswer> {
    const envelope = this.envelope(token);
    const answer = await this.post(url, PUSH_PATH, envelope.id, encodePush(envelope, entries), 'application/octet-stream');
    return decodePushAnswer(answer, entries.length);
  }

  /** Asks a previous owner to hand `key` over now. Never rejects. */
  async pull(url: string, token: number, state: string, key: string): Promise<PullAnswer | PullFailure> {
    const envelope = this.envelope(token);
    try {
      const body = Buffer.from(JSON.stringify({ ...envelope, state, key }));
      return decodePullAnswer(await this.post(url, PULL_PATH, envelope.id, body, 'application/json'));
    } catch (error) {
      const failure = (error as { status?: number }).status === 404 ? 'stateless' : refused(error) ? 'unreachable' : 'failed';
      return { failure, error: error as Error };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private envelope(token: number): Envelope {
    return { v: WIRE_VERSION, from: this.self, token, id: randomUUID(), sentAt: Date.now() };
  }

  private async post(base: string, path: string, id: string, body: Buffer, type: string): Promise<unknown> {
    const target = new URL(joinUrl(base, this.prefix + path));
    const signature = signRequest(this.signer, target.pathname, body);
    const headers: Record<string, string> = { 'content-type': type };
    if (signature !== undefined) headers[SIGNATURE_HEADER] = signature;
    const response = await this.agent.request({ origin: target.origin, path: target.pathname, method: 'POST', headers, body });
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw Object.assign(new Error(`handoff ${path} answered ${response.statusCode}: ${text.slice(0, 200)}`), {
        status: response.statusCode,
      });
    const answerSignature = response.headers[SIGNATURE_HEADER];
    if (this.signer?.signed && !this.signer.verify([ANSWER, id, text], typeof answerSignature === 'string' ? answerSignature : undefined))
      throw new Error(`handoff ${path}: the answer's signature does not match`);
    return JSON.parse(text) as unknown;
  }
}

/** Nobody listens at the address: the node is gone (a paused one would accept the connection). */
function refused(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true;
  return false;
}
