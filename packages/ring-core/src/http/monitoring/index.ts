import type { IncomingMessage } from 'node:http';
import { errorAnswer, type HttpAnswer } from '../answers.js';
import type { RingRouter } from '../router.js';
import { readJson } from './body.js';
import { routeMatcher, type Match } from './match.js';
import { monitoringRoutes } from './routes.js';
import type { MonitoringRoute } from './types.js';

export type { Match, MonitoringRoute };
export type { MonitoringInput } from './types.js';
export { describeKey, healthBody, routerStats, type RouterStats } from './stats.js';
export { bearerMatches, tokenDigest } from './token.js';
export { readJson } from './body.js';

/** A raw Node request, with what a framework may have parsed already. */
export type MonitoredRequest = IncomingMessage & { query?: unknown; body?: unknown };

/**
 * The monitoring and admin routes of one router, framework-free: Fastify registers `routes`; Express and the
 * Hocuspocus extension `match(method, path)` and `serve` the match (one JSON body reader for everyone).
 */
export interface Monitoring {
  readonly routes: readonly MonitoringRoute[];
  match(method: string, path: string): Match | undefined;
  /** Answers a matched request; reads the JSON body of a POST unless a body parser already did. */
  serve(match: Match, request: MonitoredRequest): Promise<HttpAnswer>;
}

export function createMonitoring(router: RingRouter<never>): Monitoring {
  const routes = monitoringRoutes(router);
  const match = routeMatcher(routes);
  return {
    routes,
    match,
    async serve(found, request) {
      if ('methodNotAllowed' in found)
        return errorAnswer(
          405,
          'Method Not Allowed',
          'method-not-allowed',
          `use ${found.methodNotAllowed}`,
          {},
          { allow: found.methodNotAllowed },
        );
      if ('badParam' in found)
        return errorAnswer(400, 'Bad Request', 'invalid-input', `path parameter "${found.badParam}" is not valid percent-encoding`);
      let body = request.body;
      if (found.route.method === 'POST' && body === undefined) {
        const read = await readJson(request);
        if ('error' in read) return read.error;
        body = read.value;
      }
      const query = request.query ?? Object.fromEntries(new URL(request.url ?? '/', 'http://localhost').searchParams);
      return found.route.handle({ query, params: found.params, body, headers: request.headers });
    },
  };
}
