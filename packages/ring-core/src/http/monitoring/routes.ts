import { errorAnswer, jsonAnswer, unavailableAnswer, type HttpAnswer } from '../answers.js';
import type { RingRouter } from '../router.js';
import { adminRoutes } from './admin.js';
import { describeKey, healthBody, routerStats } from './stats.js';
import type { MonitoringInput, MonitoringRoute } from './types.js';

export type { MonitoringInput, MonitoringRoute } from './types.js';

/**
 * `<prefix>/route?key=`, `/api/routes/stats`, `/health`, `/ready`, `/metrics`, and with an admin token the mutating
 * routes (add/remove a node, pin a key) behind `Authorization: Bearer <token>`.
 */
export function monitoringRoutes(router: RingRouter<never>): MonitoringRoute[] {
  const { prefix, self, retryAfter, maxKeyLength } = router.options;
  const notReady = () => unavailableAnswer('not-ready', router.notReadyReason, retryAfter);

  const describe = ({ query }: MonitoringInput): HttpAnswer => {
    const key = (query as Record<string, unknown> | undefined)?.key;
    if (typeof key !== 'string' || key.length === 0)
      return errorAnswer(400, 'Bad Request', 'missing-key', 'query parameter "key" is required');
    if (key.length > maxKeyLength) return errorAnswer(414, 'URI Too Long', 'key-too-long', `key longer than ${maxKeyLength} characters`);
    const info = describeKey(router, key);
    return info ? jsonAnswer(200, info) : notReady();
  };

  const { registry } = router.metrics;
  return [
    { method: 'GET', path: `${prefix}/route`, admin: false, handle: async (input) => describe(input) },
    { method: 'GET', path: `${prefix}/api/routes/stats`, admin: false, handle: async () => jsonAnswer(200, routerStats(router)) },
    { method: 'GET', path: `${prefix}/health`, admin: false, handle: async () => jsonAnswer(200, healthBody(self)) },
    {
      method: 'GET',
      path: `${prefix}/ready`,
      admin: false,
      handle: async () =>
        router.ready
          ? jsonAnswer(200, { ready: true, self, epoch: router.ring?.epoch })
          : jsonAnswer(503, { ready: false, self, reason: router.notReadyReason }, { 'retry-after': String(retryAfter) }),
    },
    {
      method: 'GET',
      path: `${prefix}/metrics`,
      admin: false,
      handle: async () => ({ status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() }),
    },
    ...adminRoutes(router),
  ];
}
