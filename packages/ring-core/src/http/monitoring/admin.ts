import { RingRouteConfigError } from '../../errors.js';
import { checkRoutedNode, toSpec } from '../../ring/nodes.js';
import type { NodeSpec } from '../../types.js';
import { errorAnswer, jsonAnswer, nodeView, type HttpAnswer } from '../answers.js';
import type { RingRouter } from '../router.js';
import type { MonitoringInput, MonitoringRoute } from './types.js';
import { bearerMatches, tokenDigest } from './token.js';

/**
 * The mutating routes behind `Authorization: Bearer <adminToken>` (none without a token): add a node (validated
 * exactly as the `nodes` option is), remove one, pin a key.
 */
export function adminRoutes(router: RingRouter<never>): MonitoringRoute[] {
  const { prefix, adminToken, maxKeyLength } = router.options;
  if (adminToken === undefined) return [];
  const expected = tokenDigest(adminToken);
  const admin = (handle: (input: MonitoringInput) => Promise<HttpAnswer>) => async (input: MonitoringInput) => {
    if (!bearerMatches(input.headers, expected))
      return errorAnswer(
        401,
        'Unauthorized',
        'admin-token',
        'a valid "Authorization: Bearer <adminToken>" header is required',
        {},
        { 'www-authenticate': 'Bearer realm="ringroute"' },
      );
    try {
      return await handle(input);
    } catch (error) {
      if (error instanceof RingRouteConfigError)
        return errorAnswer(400, 'Bad Request', 'invalid-input', error.message, { option: error.option });
      throw error;
    }
  };
  const { membership } = router;

  const addNode = async ({ body }: MonitoringInput): Promise<HttpAnswer> => {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return errorAnswer(400, 'Bad Request', 'invalid-input', 'body must be a JSON node spec { id, url?, weight? }');
    const node = checkRoutedNode(body as NodeSpec, 'node'); // throws RingRouteConfigError naming the field: 400
    await membership.add(toSpec(node));
    const added = router.ring?.node(node.id);
    return jsonAnswer(201, { added: added && nodeView(added), epoch: router.ring?.epoch });
  };

  const removeNode = async ({ params }: MonitoringInput): Promise<HttpAnswer> => {
    const id = (params as Record<string, unknown> | undefined)?.id;
    if (typeof id !== 'string' || !router.ring?.node(id))
      return errorAnswer(404, 'Not Found', 'unknown-node', `no member ${JSON.stringify(id)}`);
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

  return [
    { method: 'POST', path: `${prefix}/api/routes/nodes`, admin: true, handle: admin(addNode) },
    { method: 'DELETE', path: `${prefix}/api/routes/nodes/:id`, admin: true, handle: admin(removeNode) },
    { method: 'POST', path: `${prefix}/api/routes/pins`, admin: true, handle: admin(pinKey) },
  ];
}
