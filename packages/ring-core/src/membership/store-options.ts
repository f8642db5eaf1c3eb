import { checkKnownOptions, checkNumber, checkString, fail } from '../errors.js';
import { RING_PARAMS } from '../ring/params.js';
import type { NodeSpec } from '../types.js';
import { Codec } from './codec.js';
import type { FailureDetection } from './detector.js';
import type { MembershipLogger, RingParams } from './types.js';

/** The options every membership over a shared store (Redis, etcd) takes besides the store's connection. */
export interface StoreMembershipOptions extends RingParams {
  /** Cluster name: members with the same name (and prefix) share one ring; several clusters can share one store. */
  cluster: string;
  /** This process's node; omit for an observer that follows the ring without joining it. */
  self?: NodeSpec;
  /** Period of the snapshot check that heals missed messages (ms). Default 1000. */
  syncInterval?: number;
  /** Heartbeat period: each member writes its heartbeat and reads the few it watches this often (ms). Default syncInterval. */
  heartbeatInterval?: number;
  /** A member silent this long is suspected; twice as long, removed as failed (ms). Default 5 x heartbeatInterval. */
  failureTimeout?: number;
  /** Shared secret: every message and the snapshot are HMAC-SHA256 signed, and unsigned ones refused. */
  secret?: string;
  /** Key prefix of the cluster's keys. Default 'ringroute'. */
  prefix?: string;
  /** Larger messages are refused on receipt and rejected on send (bytes). Default 65536. */
  maxMessageBytes?: number;
  /** Receives an error when the snapshot fails to decode or verify (it is then rebuilt from the members' state). */
  logger?: Pick<MembershipLogger, 'error'>;
}

/** What a store allows beyond the common rules. */
export interface StoreLimits {
  /** Names the store's connection option in the error for a missing options object. */
  connection: string;
  /** The smallest failureTimeout the store can enforce (ms; etcd leases are whole seconds). */
  minFailureTimeout: number;
  /** The largest message the store carries (bytes). */
  maxMessageBytes: number;
  /** The store's own option names (its connection option first): together with the common ones, all that is known. */
  options: readonly string[];
}

const STORE_OPTIONS = Object.keys({
  cluster: 1,
  self: 1,
  syncInterval: 1,
  heartbeatInterval: 1,
  failureTimeout: 1,
  secret: 1,
  prefix: 1,
  maxMessageBytes: 1,
  logger: 1,
} satisfies Record<Exclude<keyof StoreMembershipOptions, keyof RingParams>, 1>);

/** Checks the common options (errors name each one) and builds the codec and the failure detection timing. */
export function resolveStoreOptions(options: StoreMembershipOptions, limits: StoreLimits) {
  if (options === null || typeof options !== 'object') fail('options', `must be an object with ${limits.connection} and cluster`);
  checkKnownOptions(options, [...limits.options, ...STORE_OPTIONS, ...RING_PARAMS]);
  const cluster = checkString('cluster', options.cluster);
  const prefix = options.prefix === undefined ? 'ringroute' : checkString('prefix', options.prefix);
  const syncInterval =
    options.syncInterval === undefined ? 1000 : checkNumber('syncInterval', options.syncInterval, { min: 10, max: 3_600_000 });
  const heartbeatInterval =
    options.heartbeatInterval === undefined
      ? syncInterval
      : checkNumber('heartbeatInterval', options.heartbeatInterval, { min: 10, max: 3_600_000 });
  const minFailureTimeout = Math.max(limits.minFailureTimeout, 2 * heartbeatInterval);
  const failureTimeout =
    options.failureTimeout === undefined
      ? Math.max(2 * limits.minFailureTimeout, 5 * heartbeatInterval)
      : checkNumber('failureTimeout', options.failureTimeout, { min: minFailureTimeout, max: 86_400_000 });
  const secret = options.secret === undefined ? undefined : checkString('secret', options.secret);
  const maxMessageBytes =
    options.maxMessageBytes === undefined
      ? 65_536
      : checkNumber('maxMessageBytes', options.maxMessageBytes, { min: 1024, max: limits.maxMessageBytes, integer: true });
  if (options.logger !== undefined && typeof options.logger?.error !== 'function')
    fail('logger', 'must have an error(details, message) method');
  const detection: FailureDetection = { syncInterval, heartbeatInterval, failureTimeout };
  return { cluster, prefix, codec: new Codec(cluster, secret, maxMessageBytes), detection };
}
