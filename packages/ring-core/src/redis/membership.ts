import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { checkNumber, checkString, fail } from '../errors.js';
import { SharedMembership } from '../membership/shared.js';
import type { MembershipLogger, RingParams } from '../membership/types.js';
import type { NodeSpec } from '../types.js';
import { RedisBackend } from './backend.js';
import { Codec } from '../membership/codec.js';
import { checkRedis, type RedisClusterConfig } from './connection.js';

export interface RedisMembershipOptions extends RingParams {
  /**
   * A Redis URL, ioredis options (Sentinel: `{ sentinels, name }`), a Redis Cluster's startup nodes and ioredis
   * cluster options (`{ nodes, ...options }`), or an existing ioredis `Redis` / `Cluster` client. A client you pass
   * is used for commands and left open on stop(); its `duplicate()` subscribes.
   */
  redis: string | RedisOptions | RedisClusterConfig | Redis | Cluster;
  /** Cluster name: members with the same name (and prefix) share one ring; several clusters can share one Redis. */
  cluster: string;
  /** This process's node; omit for an observer that follows the ring without joining it. */
  self?: NodeSpec;
  /** Period of the snapshot check that heals missed messages (ms). Default 1000. */
  syncInterval?: number;
  /** Heartbeat period (ms). Default: syncInterval. */
  heartbeatInterval?: number;
  /** A member silent this long is suspected; twice as long, removed as failed (ms). Default 5 x heartbeatInterval. */
  failureTimeout?: number;
  /** Shared secret: every message and the snapshot are HMAC-SHA256 signed, and unsigned ones refused. */
  secret?: string;
  /**
   * Key prefix: the snapshot is the hash `<prefix>:<cluster>`, the channel `<prefix>:<cluster>:bus`, heartbeats
   * `<prefix>:<cluster>:beat:<node id>`. On a Redis Cluster `<prefix>:<cluster>` is a hash tag, `{<prefix>:<cluster>}`,
   * so all of them share one slot.
   * Default 'ringroute'.
   */
  prefix?: string;
  /** Larger messages are refused on receipt and rejected on send (bytes). Default 65536. */
  maxMessageBytes?: number;
  /** Receives an error when the snapshot fails to decode or verify (it is then rebuilt from the members' state). */
  logger?: Pick<MembershipLogger, 'error'>;
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
    const { backend, key, channel, detection } = redisBackend(options);
    super(backend, { ...options, detection });
    this.key = key;
    this.channel = channel;
  }
}

/** Checks the options and builds the transport (connecting later, in start()). Tests use it to reach the backend. */
export function redisBackend(options: RedisMembershipOptions) {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object with redis and cluster');
  const cluster = checkString('cluster', options.cluster);
  const prefix = options.prefix === undefined ? 'ringroute' : checkString('prefix', options.prefix);
  const syncInterval =
    options.syncInterval === undefined ? 1000 : checkNumber('syncInterval', options.syncInterval, { min: 10, max: 3_600_000 });
  const heartbeatInterval =
    options.heartbeatInterval === undefined
      ? syncInterval
      : checkNumber('heartbeatInterval', options.heartbeatInterval, { min: 10, max: 3_600_000 });
  const failureTimeout =
    options.failureTimeout === undefined
      ? 5 * heartbeatInterval
      : checkNumber('failureTimeout', options.failureTimeout, { min: 2 * heartbeatInterval, max: 86_400_000 });
  const secret = options.secret === undefined ? undefined : checkString('secret', options.secret);
  const maxMessageBytes =
    options.maxMessageBytes === undefined
      ? 65_536
      : checkNumber('maxMessageBytes', options.maxMessageBytes, { min: 1024, max: 512 * 1024 * 1024, integer: true });
  const target = checkRedis(options.redis);
  if (options.logger !== undefined && typeof options.logger?.error !== 'function') fail('logger', 'must have an error(details, message) method');
  if (target.cluster && /[{}]/.test(`${prefix}${cluster}`))
    fail(/[{}]/.test(prefix) ? 'prefix' : 'cluster', 'must not contain { or } on a Redis Cluster (the keys carry a hash tag)');
  // On a Cluster the snapshot CAS and its publish run in one script, so key and channel must share a hash slot.
  const key = target.cluster ? `{${prefix}:${cluster}}` : `${prefix}:${cluster}`;
  const channel = `${key}:bus`;
  const backend = new RedisBackend(target, key, channel, new Codec(cluster, secret, maxMessageBytes));
  return { backend, key, channel, detection: { syncInterval, heartbeatInterval, failureTimeout } };
}
