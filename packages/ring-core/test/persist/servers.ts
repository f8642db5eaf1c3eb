/**
 * The machine's PostgreSQL and Redis for the persist tests and benchmarks (plain Node: no vitest). PostgreSQL is
 * 127.0.0.1:5432, user postgres, database test (PGHOST, PGPORT, PGUSER, PGDATABASE override); both fail loudly when
 * missing.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { REDIS_URL, requireRedis } from '../redis/server.js';

export const POSTGRES = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
};

/** A pool on the test database, or a clear error naming it. */
export async function requirePostgres(): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...POSTGRES, max: 2 });
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    const { host, port, user, database } = POSTGRES;
    throw new Error(
      `these tests need PostgreSQL at ${host}:${port} (user ${user}, database ${database}; PG* override): ${(error as Error).message}`,
    );
  }
  return pool;
}

/** Deletes every key under `prefix:` on the shared Redis (never FLUSHALL: other tests use it). */
export async function dropRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis: Redis = await requireRedis(url);
  try {
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      if (next === '0') break;
      cursor = next;
    }
  } finally {
    redis.disconnect();
  }
}
