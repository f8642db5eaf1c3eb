import type { HttpAnswer } from '../answers.js';
import type { RequestView } from '../request.js';

/** A monitoring or admin route: Fastify registers each one as is (`:name` path parameters); others match them. */
export interface MonitoringRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  admin: boolean;
  handle(input: MonitoringInput): Promise<HttpAnswer>;
}

export interface MonitoringInput {
  query: unknown;
  params: unknown;
  /** Parsed JSON body (POST routes). */
  body: unknown;
  headers: RequestView['headers'];
}
