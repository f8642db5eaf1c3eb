import type { IncomingMessage } from 'node:http';
import { errorAnswer, type HttpAnswer, type MonitoringRoute } from '@ringroute/ring-core/http';
import type { Request, RequestHandler } from 'express';
import { send } from '../send.js';

/** Admin bodies are tiny node specs and pins. */
const MAX_BODY_BYTES = 64 * 1024;

/** `/api/routes/nodes/:id` -> `^/api/routes/nodes/(?<id>[^/]+)$` */
const compile = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);

/**
 * One middleware serving the router's monitoring and admin routes (`<prefix>/route`, `/api/routes/stats`, `/health`,
 * `/ready`, `/metrics`, and the admin routes when a token is configured). It is a plain handler rather than an
 * `express.Router` so that it never pulls in a second copy of Express: it works the same under Express 4 and 5.
 * Every other request costs one map lookup (plus a pattern per parameterised admin route).
 */
export function monitoringHandler(routes: readonly MonitoringRoute[], prefix: string): RequestHandler {
  const exact = new Map<string, MonitoringRoute>();
  const patterned: { route: MonitoringRoute; pattern: RegExp }[] = [];
  for (const route of routes) {
    if (route.path.includes('/:')) patterned.push({ route, pattern: compile(route.path) });
    else exact.set(`${route.method} ${route.path}`, route);
  }
  return function ringRouteMonitor(req, res, next) {
    const { path } = req;
    if (!path.startsWith(prefix)) return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = exact.get(`${method} ${path}`);
    if (route) return void answer(route, req, {}).then((a) => send(res, a), next);
    for (const { route, pattern } of patterned) {
      const match = route.method === method ? pattern.exec(path) : null;
      if (match) return void answer(route, req, match.groups ?? {}).then((a) => send(res, a), next);
    }
    next();
  };
}

async function answer(route: MonitoringRoute, req: Request, groups: Record<string, string>): Promise<HttpAnswer> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(groups)) {
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      return errorAnswer(400, 'Bad Request', 'invalid-input', `path parameter "${name}" is not valid percent-encoding`);
    }
  }
  let body: unknown = req.body;
  if (route.method === 'POST' && body === undefined) {
    const read = await readJson(req);
    if ('error' in read) return read.error;
    body = read.value;
  }
  return route.handle({ query: req.query, params, body, headers: req.headers });
}

/** Reads a small JSON body when no body parser ran before this middleware; an oversized one is drained, not kept. */
function readJson(req: IncomingMessage): Promise<{ value: unknown } | { error: HttpAnswer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      stop();
      req.resume();
      resolve({ error: errorAnswer(413, 'Payload Too Large', 'body-too-large', `admin request bodies are limited to ${MAX_BODY_BYTES} bytes`) });
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
