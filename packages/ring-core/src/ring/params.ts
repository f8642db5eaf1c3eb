import { checkNumber, checkOneOf, fail } from '../errors.js';
import { HASH_NAMES } from '../hash/index.js';
import type { RingParams } from '../membership/types.js';
import { STRATEGIES } from '../strategy/index.js';
import type { HashName, StrategyName } from '../types.js';

const DEFAULT_HASH: Readonly<Record<StrategyName, HashName>> = {
  ring: 'xxh32',
  maglev: 'xxh32',
  rendezvous: 'xxh32',
  nginx: 'crc32',
  haproxy: 'sdbm',
};

/** The key hashes each edge proxy offers: nginx's consistent hash is CRC-32 only. */
const EDGE_HASHES: Partial<Record<StrategyName, readonly HashName[]>> = {
  nginx: ['crc32'],
  haproxy: ['sdbm', 'djb2', 'wt6', 'crc32'],
};

/** The ring parameters every membership takes (a membership's own options add to them). */
export const RING_PARAMS = Object.keys({ vnodes: 1, hash: 1, avalanche: 1, strategy: 1, route: 1 } satisfies Record<keyof RingParams, 1>);

/**
 * Checks the ring parameters and fills in their defaults. Memberships call it in their constructors, so a typo
 * fails where it is written rather than at start().
 */
export function resolveRingParams(options: RingParams) {
  const vnodes = options.vnodes === undefined ? 150 : checkNumber('vnodes', options.vnodes, { min: 1, max: 10_000, integer: true });
  const strategy =
    options.strategy === undefined ? 'ring' : checkOneOf('strategy', options.strategy, Object.keys(STRATEGIES) as StrategyName[]);
  const hash =
    options.hash === undefined
      ? DEFAULT_HASH[strategy]
      : typeof options.hash === 'function'
        ? options.hash
        : checkOneOf('hash', options.hash, HASH_NAMES);
  if (options.avalanche !== undefined && typeof options.avalanche !== 'boolean') fail('avalanche', 'must be a boolean');
  // A bare HAProxy `hash-type consistent` is sdbm with avalanche; naming a function turns avalanche off unless asked.
  const avalanche = options.avalanche ?? (strategy === 'haproxy' && options.hash === undefined);
  const edgeHashes = EDGE_HASHES[strategy];
  if (edgeHashes && (typeof hash === 'function' || !edgeHashes.includes(hash)))
    fail(
      'hash',
      `strategy '${strategy}' hashes keys as the proxy does: one of ${edgeHashes.join(', ')} (got ${typeof hash === 'function' ? 'a function' : JSON.stringify(hash)})`,
    );
  if (strategy === 'nginx' && avalanche) fail('avalanche', "strategy 'nginx' has no avalanche step");
  if (options.route !== undefined && typeof options.route !== 'function') fail('route', 'must be a function');
  return { vnodes, strategy, hash, avalanche, route: options.route };
}
