import type { IncomingMessage } from 'node:http';
import { errorAnswer, type HttpAnswer } from '../answers.js';
import { readLimited } from '../read.js';

/** Admin bodies are tiny node specs and pins. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Reads a small JSON body from the raw request; an oversized one is drained, not kept. Never rejects. */
export async function readJson(req: IncomingMessage): Promise<{ value: unknown } | { error: HttpAnswer }> {
  const body = await readLimited(req, MAX_BODY_BYTES);
  if (body === 'too-large')
    return {
      error: errorAnswer(413, 'Payload Too Large', 'body-too-large', `admin request bodies are limited to ${MAX_BODY_BYTES} bytes`),
    };
  if (body === 'failed') return { error: errorAnswer(400, 'Bad Request', 'invalid-input', 'request body could not be read') };
  const text = body.toString('utf8');
  try {
    return { value: text.length === 0 ? undefined : JSON.parse(text) };
  } catch {
    return { error: errorAnswer(400, 'Bad Request', 'invalid-input', 'request body must be JSON') };
  }
}
