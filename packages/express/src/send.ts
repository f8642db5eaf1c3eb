import type { ServerResponse } from 'node:http';
import type { HttpAnswer } from '@ringroute/ring-core/http';

/** Writes a router answer as is: status, headers and body (Node drops the body for HEAD). */
export function send(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}
