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
  /** The deployment and its address, for messages (no credentials): 'Redis at 127.0.0.1:6379'. */
  store: string;
}

export const isCluster = (client: unknown): client is Cluster => (client as { isCluster?: unknown }).isCluster === true;

/**
 * Checks the redis option now; the returned target connects later, in start(). Clients it creates reconnect at
 * most `retryDelay` ms apart (ioredis waits up to 2 s), so a member notices a returning Redis within a heartbeat;
 * the app's own retry strategies win.
 */
export function checkRedis(redis: unknown, retryDelay: number): RedisTarget {
  const backoff = (times: number) => Math.min(times * 50, retryDelay);
  const reconnects: RedisOptions = { retryStrategy: backoff, sentinelRetryStrategy: backoff };
  if (typeof redis === 'string') {
    checkString('redis', redis);
    if (!/^rediss?:\/\//.test(redis) || !URL.canParse(redis))
      fail('redis', `must be a redis:// or rediss:// URL, ioredis options or an ioredis client (got ${JSON.stringify(redis)})`);
    const url = new URL(redis);
    return { connect: () => [new Redis(redis, reconnects), true], cluster: false, store: `Redis at ${url.hostname}:${url.port || 6379}` };
  }
  if (redis === null || typeof redis !== 'object')
    fail('redis', 'must be a Redis URL, ioredis options, { nodes } for a Redis Cluster, or an ioredis client');
  if (typeof (redis as Redis).duplicate === 'function') {
    const client = redis as Client;
    const store = isCluster(client)
      ? clusterStore((client as unknown as { startupNodes?: ClusterNode[] }).startupNodes)
      : redisStore(client.options);
    return { connect: () => [client, false], cluster: isCluster(client), store };
  }
  if ('nodes' in redis) {
    const { nodes, ...options } = redis as RedisClusterConfig;
    if (!Array.isArray(nodes) || nodes.length === 0) fail('redis.nodes', 'must be a non-empty list of cluster startup nodes');
    const cluster: ClusterOptions = { clusterRetryStrategy: (times) => Math.min(100 + times * 2, retryDelay), ...options };
    return { connect: () => [new Cluster(nodes, cluster), true], cluster: true, store: clusterStore(nodes) };
  }
  const options = redis as RedisOptions;
  return { connect: () => [new Redis({ ...reconnects, ...options }), true], cluster: false, store: redisStore(options) };
}

/** 'Redis at host:port', 'Redis at /socket' or 'Redis Sentinel <name> at host:port, ...' (ioredis's defaults filled in). */
function redisStore(options: RedisOptions | undefined): string {
  const { sentinels, name, path, host = 'localhost', port = 6379 } = options ?? {};
  if (sentinels?.length)
    return `Redis Sentinel ${name ?? 'mymaster'} at ${sentinels.map((s) => `${s.host ?? 'localhost'}:${s.port ?? 26379}`).join(', ')}`;
  return `Redis at ${path ?? `${host}:${port}`}`;
}

/** 'Redis Cluster at host:port, ...': the startup nodes (a number is a port, a string may be a URL with credentials). */
function clusterStore(nodes: readonly ClusterNode[] | undefined): string {
  const address = (node: ClusterNode) =>
    typeof node === 'number'
      ? `127.0.0.1:${node}`
      : typeof node === 'string'
        ? node.replace(/^rediss?:\/\/([^@/]*@)?/, '').replace(/\/.*$/, '')
        : `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}`;
  return nodes?.length ? `Redis Cluster at ${nodes.map(address).join(', ')}` : 'Redis Cluster';
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
