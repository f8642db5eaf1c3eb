import type { MisroutePolicy } from '@ringroute/ring-core';

/** REDIS_URL, RINGROUTE_CLUSTER and RINGROUTE_SECRET as RedisMembership options (SmartRoute takes the same ones). */
export interface RedisEnv {
  redis: string;
  cluster: string;
  secret: string | undefined;
}

/** RINGROUTE_SYNC_INTERVAL and RINGROUTE_FAILURE_TIMEOUT (ms): how fast a Redis membership notices changes and crashes. */
export interface TimingEnv {
  syncInterval?: number;
  failureTimeout?: number;
}

/** The variables the READMEs and deploy/ document, checked. */
export interface ExampleEnv {
  /** PORT: the first node's port (0 picks free ports). */
  port: number;
  /** NODE_ID: run one node per process (as in Kubernetes) instead of 3 local nodes. */
  nodeId: string | undefined;
  /** NODE_URL: the address other nodes and clients reach that one node at. */
  nodeUrl: string | undefined;
  /** HOST: where that one node listens (default: every interface). */
  host: string;
  /** Set with REDIS_URL (always with NODE_ID); undefined: the local nodes share an in-process membership. */
  redis: RedisEnv | undefined;
  timing: TimingEnv;
}

export function readEnv(cluster: string, defaultPort: number): ExampleEnv {
  const port = Number(process.env.PORT ?? defaultPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number (got ${process.env.PORT})`);
  const nodeId = process.env.NODE_ID || undefined;
  const redisUrl = process.env.REDIS_URL || undefined;
  if (nodeId && !redisUrl) throw new Error('REDIS_URL is required when NODE_ID is set (one node per process)');
  return {
    port,
    nodeId,
    nodeUrl: process.env.NODE_URL,
    host: process.env.HOST ?? '0.0.0.0',
    redis: redisUrl
      ? { redis: redisUrl, cluster: process.env.RINGROUTE_CLUSTER || cluster, secret: process.env.RINGROUTE_SECRET || undefined }
      : undefined,
    timing: { syncInterval: readMs('RINGROUTE_SYNC_INTERVAL'), failureTimeout: readMs('RINGROUTE_FAILURE_TIMEOUT') },
  };
}

function readMs(name: string): number | undefined {
  const value = process.env[name];
  if (!value) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${name} must be a whole number of milliseconds (got ${value})`);
  return ms;
}

/** MISROUTE: what a non-owner does with a request (default redirect). */
export function readMisroute(): MisroutePolicy {
  const misroute = (process.env.MISROUTE ?? 'redirect') as MisroutePolicy;
  if (!['redirect', 'proxy', 'refuse'].includes(misroute)) throw new Error(`MISROUTE must be redirect, proxy or refuse (got ${misroute})`);
  return misroute;
}
