import pg from 'pg';
import { Database } from './hocuspocus.js';

/** The machine's PostgreSQL (trust auth); PGHOST/PGPORT/PGUSER/PGDATABASE override. */
const connection = () => ({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  max: 4,
});

const TABLE = /^[a-z_][a-z0-9_]*$/;

/** A fresh table for one test run: document name -> Yjs state. */
export async function createTable(): Promise<{
  table: string;
  load(name: string): Promise<Uint8Array | undefined>;
  drop(): Promise<void>;
}> {
  const table = `ringroute_hp_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const pool = new pg.Pool(connection());
  await pool.query(`CREATE TABLE ${table} (name text PRIMARY KEY, data bytea NOT NULL)`);
  return {
    table,
    load: async (name) => {
      const { rows } = await pool.query<{ data: Buffer }>(`SELECT data FROM ${table} WHERE name = $1`, [name]);
      return rows[0] ? new Uint8Array(rows[0].data) : undefined;
    },
    drop: async () => {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.end();
    },
  };
}

/** @hocuspocus/extension-database over that table: the real persistence a SmartRoute handover must flush. */
/** Test knobs: a slow database (`storeDelay` ms per store) and failing stores (the next `failStores` stores throw). */
export interface PersistenceControl {
  storeDelay?: number;
  failStores?: number;
}

export function postgresPersistence(table: string, control: PersistenceControl = {}) {
  if (!TABLE.test(table)) throw new Error(`bad table name ${table}`);
  const pool = new pg.Pool(connection());
  const extension = new Database({
    fetch: async ({ documentName }) => {
      const { rows } = await pool.query<{ data: Buffer }>(`SELECT data FROM ${table} WHERE name = $1`, [documentName]);
      return rows[0] ? new Uint8Array(rows[0].data) : null;
    },
    store: async ({ documentName, state }) => {
      if (control.storeDelay) await new Promise((resolve) => setTimeout(resolve, control.storeDelay));
      if (control.failStores) {
        control.failStores--;
        throw new Error('the database is unavailable');
      }
      await pool.query(`INSERT INTO ${table} (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`, [
        documentName,
        state,
      ]);
    },
  });
  return { extension, close: () => pool.end() };
}
