import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body of at most `maxBytes`; a larger one is drained, not kept (`'too-large'`), and a broken one
 * is `'failed'`. Never rejects.
 */
export function readLimited(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large' | 'failed'> {
  if (Number(req.headers['content-length']) > maxBytes) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      stop();
      req.resume();
      resolve('too-large');
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => {
      stop();
      resolve('failed');
    };
    req.on('data', onData).once('end', onEnd).once('error', onError);
  });
}
