import type { IncomingMessage } from 'node:http';
import { errorAnswer, type HttpAnswer, type MonitoringRoute } from '@ringroute/ring-core/http';
import type { Request, RequestHandler } from 'express';
import { send } from '../send.js';

/** Admin bodies are tiny node specs and pins. */
const MAX_BODY_BYTES = 64 * 1024;

interface CompiledRoute {
  route: MonitoringRoute;
  pattern: RegExp;
}

/** `/api/routes/nodes/:id` -> `^/api/routes/nodes/(?<id>[^/]+)$` */
const compile = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);

/**
 * One middleware serving the router's monitoring and admin routes (`<prefix>/route`, `/api/routes/stats`, `/health`,
 * `/ready`, `/metrics`, and the admin routes when a token is configured). It is a plain handler rather than an
 * `express.Router` so that it never pulls in a second copy of Express: it works the same under Express 4 and 5.
 */
export function monitoringHandler(routes: readonly MonitoringRoute[], prefix: string): RequestHandler {
  const compiled: CompiledRoute[] = routes.map((route) => ({ route, pattern: compile(route.path) }));
  return function ringRouteMonitor(req, res, next) {
    const { path } = req;
    if (!path.startsWith(prefix)) return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    for (const { route, pattern } of compiled) {
      if (route.method !== method) continue;
      const match = pattern.exec(path);
      if (!match) continue;
      answer(route, req, match.groups ?? {}).then((a) => send(res, a), next);
      return;
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
