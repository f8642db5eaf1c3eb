import type { ServerResponse } from 'node:http';
import type { HttpAnswer } from '../http/answers.js';

/** Writes a router answer to a Node response as is: status, headers and body (Node drops the body for HEAD). */
export function sendAnswer(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}
