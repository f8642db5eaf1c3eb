import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { checkString, fail } from '../errors.js';

export type Client = Redis | Cluster;

/** A Redis Cluster given by its startup nodes (any reachable subset is enough) and ioredis cluster options. */
export interface RedisClusterConfig extends ClusterOptions {
  nodes: ClusterNode[];
}

/** What the redis option connects to: `connect` returns the command client and whether we created it. */
export interface RedisTarget {
  connect: () => [Client, boolean];
  /** A Redis Cluster: every key and channel of one membership cluster must share a hash slot. */
  cluster: boolean;
}

export const isCluster = (client: unknown): client is Cluster => (client as { isCluster?: unknown }).isCluster === true;

/** Checks the redis option now; the returned target connects later, in start(). */
export function checkRedis(redis: unknown): RedisTarget {
  if (typeof redis === 'string') {
    checkString('redis', redis);
    if (!/^rediss?:\/\//.test(redis) || !URL.canParse(redis))
      fail('redis', `must be a redis:// or rediss:// URL, ioredis options or an ioredis client (got ${JSON.stringify(redis)})`);
    return { connect: () => [new Redis(redis), true], cluster: false };
  }
  if (redis === null || typeof redis !== 'object')
    fail('redis', 'must be a Redis URL, ioredis options, { nodes } for a Redis Cluster, or an ioredis client');
  if (typeof (redis as Redis).duplicate === 'function') return { connect: () => [redis as Client, false], cluster: isCluster(redis) };
  if ('nodes' in redis) {
    const { nodes, ...options } = redis as RedisClusterConfig;
    if (!Array.isArray(nodes) || nodes.length === 0) fail('redis.nodes', 'must be a non-empty list of cluster startup nodes');
    return { connect: () => [new Cluster(nodes, options), true], cluster: true };
  }
  return { connect: () => [new Redis(redis as RedisOptions), true], cluster: false };
}

/** The major version of the Redis server(s) behind `client` (a Cluster asks one of its nodes). */
export async function majorVersion(client: Client): Promise<number> {
  const match = /redis_version:(\d+)/.exec(await client.info('server'));
  return match ? Number(match[1]) : 0;
}

/** quit() politely when connected; disconnect() otherwise (a quit would wait for a reconnect that may never come). */
export async function end(client: Client): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}
