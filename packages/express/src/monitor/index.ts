import type { Monitoring, RingRouter } from '@ringroute/ring-core/http';
import type { Request, RequestHandler } from 'express';
import type { RingRouteLogger } from '@ringroute/ring-core';
import { sendAnswer } from '@ringroute/ring-core/node';

interface Layer {
  route?: { path?: unknown; methods?: Record<string, boolean> };
}

/** `METHOD path` of the app's own routes (Express 4 keeps them in `app._router`, Express 5 in `app.router`). */
function appRoutes(req: Request): Set<string> {
  const app = req.app as unknown as { _router?: { stack?: Layer[] }; router?: { stack?: Layer[] } };
  const stack = app._router?.stack ?? app.router?.stack ?? [];
  const routes = new Set<string>();
  for (const { route } of stack)
    if (typeof route?.path === 'string')
      for (const method of Object.keys(route.methods ?? {})) routes.add(`${method.toUpperCase()} ${route.path}`);
  return routes;
}

/**
 * One middleware serving ring-core's monitoring and admin routes through its shared matcher, and the transfer
 * endpoint of owned state. It is a plain handler
 * rather than an `express.Router`, so it never pulls in a second copy of Express (same under Express 4 and 5). It
 * never shadows the app: a path the app routes itself is left to the app, with one warning naming `prefix`.
 */
export function monitoringHandler(monitoring: Monitoring, handoff: RingRouter['handoffEndpoint'], logger: RingRouteLogger): RequestHandler {
  let shadowed: Set<string> | undefined;
  return function ringRouteMonitor(req, res, next) {
    if (handoff.matches(req.method, req.path)) return void handoff.serve(req, res);
    const found = monitoring.match(req.method, req.path);
    if (found === undefined || 'methodNotAllowed' in found) return next();
    if (shadowed === undefined) {
      // The app's routes are all declared once it serves requests: look them up on the first one.
      const own = appRoutes(req);
      shadowed = new Set(monitoring.routes.map((r) => `${r.method} ${r.path}`).filter((route) => own.has(route)));
      if (shadowed.size > 0)
        logger.warn(
          { routes: [...shadowed] },
          "ringroute: the app has its own routes at these monitoring paths; they stay the app's (set `prefix` to serve RingRoute's elsewhere)",
        );
    }
    if ('route' in found && shadowed.has(`${found.route.method} ${found.route.path}`)) return next();
    monitoring.serve(found, req).then((answer) => sendAnswer(res, answer), next);
  };
}
