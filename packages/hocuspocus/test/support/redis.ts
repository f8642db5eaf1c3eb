import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails loudly when Redis is missing (these tests never skip). Returns a unique cluster name and a cleanup. */
export async function redisCluster(): Promise<{ cluster: string; cleanup(): Promise<void> }> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`these tests need Redis at ${REDIS_URL} (set REDIS_URL): ${String(error)}`);
  }
  const cluster = `hp-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    cluster,
    cleanup: async () => {
      const keys = await redis.keys(`ringroute:${cluster}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** Total calls in INFO commandstats (this INFO not yet counted: a delta between two calls includes the first one). */
export async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, [, calls]) => sum + Number(calls), 0);
}
