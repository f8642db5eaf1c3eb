import { RingRouteConfigError } from '../errors.js';
import type { NodeSpec } from '../types.js';
import { bearerMatches, tokenDigest } from './admin.js';
import { errorAnswer, jsonAnswer, nodeView, unavailableAnswer, type HttpAnswer } from './answers.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import type { RequestView } from './request.js';
import type { RingRouter } from './router.js';

/** A monitoring or admin route: adapters register each one as is (`:name` path parameters). */
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

/**
 * `<prefix>/route?key=`, `/api/routes/stats`, `/health`, `/ready`, `/metrics`, and with an admin token the mutating
 * routes (add/remove a node, pin a key) behind `Authorization: Bearer <token>`.
 */
export function monitoringRoutes(router: RingRouter<never>): MonitoringRoute[] {
  const { prefix, self, retryAfter, maxKeyLength, adminToken } = router.options;
  const notReady = () => unavailableAnswer('not-ready', 'this node has no ring yet', retryAfter);

  const describe = ({ query }: MonitoringInput): HttpAnswer => {
    const key = (query as Record<string, unknown> | undefined)?.key;
    if (typeof key !== 'string' || key.length === 0) return errorAnswer(400, 'Bad Request', 'missing-key', 'query parameter "key" is required');
    if (key.length > maxKeyLength) return errorAnswer(414, 'URI Too Long', 'key-too-long', `key longer than ${maxKeyLength} characters`);
    const info = router.describeKey(key);
    return info ? jsonAnswer(200, info) : notReady();
  };

  const routes: MonitoringRoute[] = [
    { method: 'GET', path: `${prefix}/route`, admin: false, handle: async (input) => describe(input) },
    { method: 'GET', path: `${prefix}/api/routes/stats`, admin: false, handle: async () => jsonAnswer(200, router.stats()) },
    { method: 'GET', path: `${prefix}/health`, admin: false, handle: async () => jsonAnswer(200, { status: 'ok', self }) },
    {
      method: 'GET',
      path: `${prefix}/ready`,
      admin: false,
      handle: async () =>
        router.ready
          ? jsonAnswer(200, { ready: true, self, epoch: router.ring?.epoch })
          : jsonAnswer(503, { ready: false, self }, { 'retry-after': String(retryAfter) }),
    },
    {
      method: 'GET',
      path: `${prefix}/metrics`,
      admin: false,
      handle: async () => ({ status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE }, body: router.metrics() }),
    },
  ];
  if (adminToken === undefined) return routes;

  const expected = tokenDigest(adminToken);
  const admin = (handle: (input: MonitoringInput) => Promise<HttpAnswer>) => async (input: MonitoringInput) => {
    if (!bearerMatches(input.headers, expected))
      return errorAnswer(401, 'Unauthorized', 'admin-token', 'a valid "Authorization: Bearer <adminToken>" header is required', {}, { 'www-authenticate': 'Bearer realm="ringroute"' });
    try {
      return await handle(input);
    } catch (error) {
      if (error instanceof RingRouteConfigError) return errorAnswer(400, 'Bad Request', 'invalid-input', error.message, { option: error.option });
      throw error;
    }
  };
  const { membership } = router;

  const addNode = async ({ body }: MonitoringInput): Promise<HttpAnswer> => {
    if (body === null || typeof body !== 'object') return errorAnswer(400, 'Bad Request', 'invalid-input', 'body must be a JSON node spec { id, url?, weight? }');
    await membership.add(body as NodeSpec);
    const node = router.ring?.node((body as NodeSpec).id);
    return jsonAnswer(201, { added: node && nodeView(node), epoch: router.ring?.epoch });
  };

  const removeNode = async ({ params }: MonitoringInput): Promise<HttpAnswer> => {
    const id = (params as Record<string, unknown> | undefined)?.id;
    if (typeof id !== 'string' || !router.ring?.node(id)) return errorAnswer(404, 'Not Found', 'unknown-node', `no member ${JSON.stringify(id)}`);
    await membership.remove(id);
    return jsonAnswer(200, { removed: id, epoch: router.ring?.epoch });
  };

  const pinKey = async ({ body }: MonitoringInput): Promise<HttpAnswer> => {
    const { key, node } = (body ?? {}) as { key?: unknown; node?: unknown };
    if (typeof key !== 'string' || key.length === 0 || key.length > maxKeyLength)
      return errorAnswer(400, 'Bad Request', 'invalid-input', `"key" must be a non-empty string of at most ${maxKeyLength} characters`);
    if (node !== null && (typeof node !== 'string' || !router.ring?.node(node)))
      return errorAnswer(400, 'Bad Request', 'invalid-input', '"node" must be the id of a member, or null to unpin');
    await membership.pin(key, node);
    return jsonAnswer(200, { key, node, epoch: router.ring?.epoch });
  };

  routes.push(
    { method: 'POST', path: `${prefix}/api/routes/nodes`, admin: true, handle: admin(addNode) },
    { method: 'DELETE', path: `${prefix}/api/routes/nodes/:id`, admin: true, handle: admin(removeNode) },
    { method: 'POST', path: `${prefix}/api/routes/pins`, admin: true, handle: admin(pinKey) },
  );
  return routes;
}
