import type { RingNode } from '../types.js';

/** A complete response in framework-free terms: adapters write status, headers and body as they are. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  /** Already serialised; `content-type` in headers says what it is. */
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function jsonAnswer(status: number, payload: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(payload) };
}

/** How a node is shown in answers and monitoring payloads. */
export interface NodeView {
  id: string;
  url: string | undefined;
  status: RingNode['status'];
}

export const nodeView = (node: RingNode): NodeView => ({ id: node.id, url: node.url, status: node.status });

/** Error answers share one body shape: `{ error, reason, message, ...details }`. */
export function errorAnswer(
  status: number,
  error: string,
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpAnswer {
  return jsonAnswer(status, { error, reason, message, ...details }, headers);
}

/** 503 with Retry-After: no ring yet, no routable owner, or the owner could not be reached. */
export function unavailableAnswer(reason: string, message: string, retryAfter: number, details: Record<string, unknown> = {}): HttpAnswer {
  return errorAnswer(503, 'Service Unavailable', reason, message, details, { 'retry-after': String(retryAfter) });
}
