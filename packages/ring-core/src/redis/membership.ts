import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { checkNumber, fail } from '../errors.js';
import { retryDelay } from '../membership/retry.js';
import { SharedMembership } from '../membership/shared.js';
import { resolveStoreOptions, type StoreMembershipOptions } from '../membership/store-options.js';
import { RedisBackend } from './backend.js';
import { checkRedis, type RedisClusterConfig } from './connection.js';

export interface RedisMembershipOptions extends StoreMembershipOptions {
  /**
   * A Redis URL, ioredis options (Sentinel: `{ sentinels, name }`), a Redis Cluster's startup nodes and ioredis
   * cluster options (`{ nodes, ...options }`), or an existing ioredis `Redis` / `Cluster` client. A client you pass
   * is used for commands and left open on stop(); its `duplicate()` subscribes.
   */
  redis: string | RedisOptions | RedisClusterConfig | Redis | Cluster;
  /**
   * Key prefix: the snapshot is the hash `<prefix>:<cluster>`, the channel `<prefix>:<cluster>:bus`, heartbeats
   * `<prefix>:<cluster>:beat:<node id>`. On a Redis Cluster `<prefix>:<cluster>` is a hash tag, `{<prefix>:<cluster>}`,
   * so all of them share one slot. Heartbeats expire after failureTimeout, the snapshot `retention` after the last
   * member's last heartbeat or change.
   * Default 'ringroute'.
   */
  prefix?: string;
  /**
   * How long the snapshot (members, pins, drains) outlives the last heartbeat or change of any member (ms): a stopped
   * cluster's keys are gone after it, and a whole-cluster restart within it keeps its pins and drains.
   * Default 3,600,000 (one hour); at least 3 x failureTimeout.
   */
  retention?: number;
}

/**
 * Membership over Redis (ioredis): a snapshot in a Redis hash for late joiners plus ordered pub/sub deltas, heartbeats
 * in per-member expiring keys (each member reads only a few) with failure detection (suspected after one `failureTimeout`, removed after the next), graceful leave, signed and
 * schema-checked messages. Redis is never on the request path: while it is unreachable `degraded` is true, routing
 * continues on the last ring, nobody is evicted, and the ring is resynchronised when Redis returns.
 */
export class RedisMembership extends SharedMembership {
  /** The Redis hash holding the snapshot. */
  readonly key: string;
  /** The pub/sub channel carrying changes and app messages. */
  readonly channel: string;

  constructor(options: RedisMembershipOptions) {
    const { backend, key, channel, detection, codec } = redisBackend(options);
    super(backend, { ...options, detection, signer: codec });
    this.key = key;
    this.channel = channel;
  }
}

/** Default `retention`: long enough for a whole-cluster restart, short enough that a retired cluster's keys go. */
const RETENTION = 3_600_000;

/** Checks the options and builds the transport (connecting later, in start()). Tests use it to reach the backend. */
export function redisBackend(options: RedisMembershipOptions) {
  const { cluster, prefix, codec, detection } = resolveStoreOptions(options, {
    connection: 'redis',
    minFailureTimeout: 0,
    maxMessageBytes: 512 * 1024 * 1024,
  });
  const target = checkRedis(options.redis, retryDelay(detection));
  if (target.cluster && /[{}]/.test(`${prefix}${cluster}`))
    fail(/[{}]/.test(prefix) ? 'prefix' : 'cluster', 'must not contain { or } on a Redis Cluster (the keys carry a hash tag)');
  // On a Cluster the snapshot CAS and its publish run in one script, so key and channel must share a hash slot.
  const key = target.cluster ? `{${prefix}:${cluster}}` : `${prefix}:${cluster}`;
  const channel = `${key}:bus`;
  // Beats come at least twice per failureTimeout: with 3 timeouts of life, a running member renews it many times over.
  const minRetention = 3 * detection.failureTimeout;
  const retention =
    options.retention === undefined
      ? Math.max(RETENTION, minRetention)
      : checkNumber('retention', options.retention, { min: minRetention, max: 30 * 86_400_000 });
  const backend = new RedisBackend(target, key, channel, codec, retention);
  return { backend, key, channel, detection, codec };
}
