import pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { checkKnownOptions, checkString, fail } from '../errors.js';
import { asBuffer, asBytes, checkEntry, checkKey, checkToken } from './entries.js';
import type { PersistEntry, PersistStore } from './types.js';

export interface PostgresPersistOptions {
  /** A `postgres://` connection string, `pg` Pool options, or a `pg` Pool (yours: left open on close()). */
  postgres: string | PoolConfig | Pool;
  /**
   * The table, created if missing: `(key text primary key, value bytea, token bigint not null)`. `schema.table`
   * works too. Default 'ringroute_owned'.
   */
  table?: string;
}

/** Lowercase, so the quoted name (reserved words work) is the name unquoted SQL finds too. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Rows per statement: 3 parameters each, well under PostgreSQL's 65,535. */
const ROWS = 1000;

/** Owned state's durable copy in PostgreSQL: one row per key, changed only by conditional upserts. */
export function postgresPersist(options: PostgresPersistOptions): PersistStore {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object: { postgres, table? }');
  checkKnownOptions(options, ['postgres', 'table']);
  const table = options.table === undefined ? 'ringroute_owned' : checkString('table', options.table);
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part)))
    fail('table', `must be a table name or schema.table of lowercase letters, digits and _ (got ${JSON.stringify(table)})`);
  return new PostgresPersistStore(connect(options.postgres), parts.map((part) => `"${part}"`).join('.'));
}

function connect(postgres: unknown): [Pool, boolean] {
  if (typeof postgres === 'string') {
    if (!/^postgres(ql)?:\/\//.test(postgres) || !URL.canParse(postgres))
      fail('postgres', `must be a postgres:// URL, pg Pool options or a pg Pool (got ${JSON.stringify(postgres)})`);
    return [new pg.Pool({ connectionString: postgres }), true];
  }
  if (postgres === null || typeof postgres !== 'object') fail('postgres', 'must be a postgres:// URL, pg Pool options or a pg Pool');
  if (typeof (postgres as Pool).query === 'function') return [postgres as Pool, false];
  return [new pg.Pool(postgres as PoolConfig), true];
}

/** Conditional upserts: a row changes only when its stored token is not above the incoming one. */
class PostgresPersistStore implements PersistStore {
  private count = 0;
  private created: Promise<void> | undefined;
  private readonly pool: Pool;
  private readonly owned: boolean;

  constructor(
    [pool, owned]: [Pool, boolean],
    private readonly table: string,
  ) {
    this.pool = pool;
    this.owned = owned;
    // An idle connection that breaks (a server restart) is dropped by the pool; without a listener it would crash the process.
    if (owned) pool.on('error', () => {});
  }

  get commands(): number {
    return this.count;
  }

  async claim(key: string, token: number): Promise<{ value: Uint8Array | null; fenced: boolean }> {
    const params = [checkKey(key), checkToken(token)];
    const { rows } = await this.query<{ value: Buffer | null }>(
      `INSERT INTO ${this.table} AS stored (key, value, token) VALUES ($1, NULL, $2)
       ON CONFLICT (key) DO UPDATE SET token = excluded.token WHERE stored.token <= excluded.token
       RETURNING value`,
      params,
    );
    if (rows.length === 0) return { value: null, fenced: true };
    return { value: rows[0]!.value ? asBytes(rows[0]!.value) : null, fenced: false };
  }

  async write(entries: readonly PersistEntry[]): Promise<boolean[]> {
    entries.forEach(checkEntry);
    const applied = new Array<boolean>(entries.length);
    for (const statement of statements(entries)) {
      const params = statement.flatMap((i) => {
        const { key, value, token } = entries[i]!;
        return [key, value === null ? null : asBuffer(value), token];
      });
      const values = statement.map((_, row) => `($${3 * row + 1}::text, $${3 * row + 2}::bytea, $${3 * row + 3}::bigint)`);
      const { rows } = await this.query<{ key: string }>(
        `INSERT INTO ${this.table} AS stored (key, value, token) VALUES ${values.join(', ')}
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, token = excluded.token WHERE stored.token <= excluded.token
         RETURNING key`,
        params,
      );
      const landed = new Set(rows.map((row) => row.key));
      for (const i of statement) applied[i] = landed.has(entries[i]!.key);
    }
    return applied;
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }

  private async query<Row extends object>(text: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    await (this.created ??= this.create());
    this.count++;
    return this.pool.query<Row>(text, params);
  }

  /** CREATE TABLE IF NOT EXISTS; a failure is tried again by the next call. Two nodes may race to create it. */
  private async create(): Promise<void> {
    this.count++;
    try {
      await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (key text PRIMARY KEY, value bytea, token bigint NOT NULL)`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '23505' || code === '42P07') return; // created by another node at the same moment
      this.created = undefined;
      throw error;
    }
  }
}

/**
 * Indices of `entries` per statement, in order. A key appears at most once per statement (ON CONFLICT cannot change a
 * row twice), so a repeated key starts a later statement; rows are sorted by key so concurrent batches lock rows in
 * the same order and cannot deadlock.
 */
function statements(entries: readonly PersistEntry[]): number[][] {
  const rounds: number[][] = [];
  const seen = new Map<string, number>();
  entries.forEach(({ key }, i) => {
    const round = (seen.get(key) ?? -1) + 1;
    seen.set(key, round);
    (rounds[round] ??= []).push(i);
  });
  return rounds.flatMap((round) => {
    round.sort((a, b) => (entries[a]!.key < entries[b]!.key ? -1 : 1));
    return Array.from({ length: Math.ceil(round.length / ROWS) }, (_, n) => round.slice(n * ROWS, (n + 1) * ROWS));
  });
}
