import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { postgresPersist } from '@ringroute/ring-core/postgres';
import { persistStoreSuite } from './conformance.js';
import { POSTGRES, requirePostgres } from './servers.js';

// The machine's PostgreSQL: a table per check, dropped afterwards.
persistStoreSuite('PostgreSQL', async () => {
  const admin = await requirePostgres();
  return {
    connect: (table) => postgresPersist({ postgres: POSTGRES, table }),
    servers: 1,
    drop: async (table) => void (await admin.query(`DROP TABLE IF EXISTS ${table}`)),
    close: () => admin.end(),
  };
});

describe('postgresPersist', () => {
  let admin: pg.Pool;
  const tables: string[] = [];
  const table = () => {
    const name = `persist_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    tables.push(name);
    return name;
  };
  beforeAll(async () => {
    admin = await requirePostgres();
  });
  afterAll(async () => {
    for (const name of tables) await admin.query(`DROP TABLE IF EXISTS ${name}`);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  const schema = `persist_schema_${randomUUID().replaceAll('-', '').slice(0, 8)}`;

  it('creates the table on first use: key text primary key, value bytea, token bigint; one row per key', async () => {
    const name = table();
    const store = postgresPersist({ postgres: POSTGRES, table: name });
    try {
      await store.write([{ key: 'cart-7', value: new TextEncoder().encode('{"items":1}'), token: 42 }]);
      const { rows: columns } = await admin.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
        [name],
      );
      expect(columns).toEqual([
        { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
        { column_name: 'value', data_type: 'bytea', is_nullable: 'YES' },
        { column_name: 'token', data_type: 'bigint', is_nullable: 'NO' },
      ]);
      await store.write([{ key: 'cart-7', value: null, token: 43 }]);
      const { rows } = await admin.query(`SELECT key, value, token FROM ${name}`);
      expect(rows).toEqual([{ key: 'cart-7', value: null, token: '43' }]);
    } finally {
      await store.close();
    }
  });

  it('nodes starting together all create or find the table; an existing table is reused; schema.table works', async () => {
    const name = table();
    const stores = Array.from({ length: 6 }, () => postgresPersist({ postgres: POSTGRES, table: name }));
    try {
      expect(await Promise.all(stores.map((store, i) => store.claim(`k${i}`, i)))).toEqual(
        stores.map(() => ({ value: null, fenced: false })),
      );
      const again = postgresPersist({ postgres: POSTGRES, table: name });
      stores.push(again);
      expect((await again.claim('k3', 2)).fenced).toBe(true);
      await admin.query(`CREATE SCHEMA ${schema}`);
      const scoped = postgresPersist({ postgres: POSTGRES, table: `${schema}.owned` });
      stores.push(scoped);
      await scoped.write([{ key: 'k', value: new Uint8Array([1]), token: 1 }]);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.owned`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('takes a connection string; leaves a pool you pass open on close(), and ends the one it created', async () => {
    const { host, port, user, database } = POSTGRES;
    const name = table();
    const ours = postgresPersist({ postgres: `postgres://${user}@${host}:${port}/${database}`, table: name });
    const yours = postgresPersist({ postgres: admin, table: name });
    await ours.claim('a', 1);
    expect(await yours.claim('a', 0)).toEqual({ value: null, fenced: true });
    await Promise.all([ours.close(), yours.close()]);
    expect((await admin.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await expect(ours.claim('a', 2)).rejects.toThrow(/Cannot use a pool after calling end on the pool/);
  });

  it('refuses bad options, naming them', () => {
    const options = (value: unknown) => value as Parameters<typeof postgresPersist>[0];
    expect(() => postgresPersist(options(null))).toThrow(RingRouteConfigError);
    expect(() => postgresPersist(options({}))).toThrow(/^postgres: must be a postgres:\/\/ URL/);
    expect(() => postgresPersist(options({ postgres: 'mysql://localhost/x' }))).toThrow(/^postgres: must be a postgres:\/\/ URL/);
    for (const bad of ['', 'Owned', 'owned; DROP TABLE x', 'a.b.c', '1table', 'x'.repeat(64)])
      expect(() => postgresPersist(options({ postgres: POSTGRES, table: bad }))).toThrow(/^table: must/);
    expect(() => postgresPersist(options({ postgres: POSTGRES, tabel: 'x' }))).toThrow(/^tabel: unknown option \(did you mean `table`\?\)/);
  });
});
