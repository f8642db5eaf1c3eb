import type { IncomingMessage } from 'node:http';
import { errorAnswer, type HttpAnswer } from '../answers.js';

/** Admin bodies are tiny node specs and pins. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Reads a small JSON body from the raw request; an oversized one is drained, not kept. Never rejects. */
export function readJson(req: IncomingMessage): Promise<{ value: unknown } | { error: HttpAnswer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      stop();
      req.resume();
      resolve({
        error: errorAnswer(413, 'Payload Too Large', 'body-too-large', `admin request bodies are limited to ${MAX_BODY_BYTES} bytes`),
      });
    };
    const onEnd = () => {
      stop();
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve({ value: text.length === 0 ? undefined : JSON.parse(text) });
      } catch {
        resolve({ error: errorAnswer(400, 'Bad Request', 'invalid-input', 'request body must be JSON') });
      }
    };
    const onError = () => {
      stop();
      resolve({ error: errorAnswer(400, 'Bad Request', 'invalid-input', 'request body could not be read') });
    };
    req.on('data', onData).once('end', onEnd).once('error', onError);
  });
}
