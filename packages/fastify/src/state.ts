import type { RingRouter } from '@ringroute/ring-core/http';
import { PULL_PATH, PUSH_PATH } from '@ringroute/ring-core/owned';
import type { FastifyRequest, RouteOptions } from 'fastify';

/**
 * The transfer endpoint of owned state (`<prefix>/api/routes/handoff`, `…/pull`): ring-core serves it on the raw
 * request and response, taken over in `onRequest`, before any body parser (transfers are binary and size-limited).
 * `register` adds a route the way the plugin adds its own (outside the collision check).
 */
export function handoffRoutes(router: RingRouter<FastifyRequest>, register: (route: RouteOptions) => void): void {
  const { prefix } = router.options;
  const endpoint = router.handoffEndpoint;
  const take: RouteOptions['onRequest'] = (request, reply, done) => {
    reply.hijack();
    void endpoint.serve(request.raw, reply.raw).finally(done);
  };
  const handler = async () => undefined; // never reached: onRequest answers
  for (const [method, path] of [
    ['POST', PUSH_PATH],
    ['GET', PUSH_PATH],
    ['POST', PULL_PATH],
  ] as const)
    register({ method, url: prefix + path, config: { ringRoute: false }, onRequest: take, handler } as RouteOptions);
}
