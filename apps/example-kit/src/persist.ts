import type { OwnedStateOptions } from '@ringroute/ring-core/owned';

/**
 * PERSIST (`redis` or `postgres`) and PERSIST_WRITE (`through`, the default, or `behind`) as the `state` option of a
 * node: its carts' durable copy, in Redis (PERSIST_REDIS_URL, default REDIS_URL; keys `ringroute:<cluster>:owned:…`)
 * or PostgreSQL (DATABASE_URL; table `owned_<cluster>`). A store per call: every node closes its own.
 */
export async function readState(cluster: string): Promise<OwnedStateOptions | undefined> {
  const kind = process.env.PERSIST || undefined;
  if (kind === undefined) return undefined;
  const write = process.env.PERSIST_WRITE || 'through';
  if (write !== 'through' && write !== 'behind') throw new Error(`PERSIST_WRITE must be through or behind (got ${write})`);
  if (kind === 'redis') {
    const url = process.env.PERSIST_REDIS_URL || process.env.REDIS_URL;
    if (!url) throw new Error('PERSIST=redis needs PERSIST_REDIS_URL or REDIS_URL');
    const { redisPersist } = await import('@ringroute/ring-core/redis');
    return { persist: { store: redisPersist({ redis: url, prefix: `ringroute:${cluster}:owned` }), write } };
  }
  if (kind === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('PERSIST=postgres needs DATABASE_URL (postgres://user@host/database)');
    const { postgresPersist } = await import('@ringroute/ring-core/postgres');
    return { persist: { store: postgresPersist({ postgres: url, table: persistTable(cluster) }), write } };
  }
  throw new Error(`PERSIST must be redis or postgres (got ${kind})`);
}

/** The PostgreSQL table of a cluster's carts (lowercase letters, digits and _). */
export const persistTable = (cluster: string) => `owned_${cluster.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
