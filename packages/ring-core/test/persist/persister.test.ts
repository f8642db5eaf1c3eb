import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError, type RingRouteLogger } from '@ringroute/ring-core';
import { postgresPersist } from '@ringroute/ring-core/postgres';
import { redisPersist } from '@ringroute/ring-core/redis';
import { Persister, type PersisterHooks, type PersistOptions } from '../../src/persist/persister.js';
import type { PersistEntry, PersistStore } from '../../src/persist/types.js';
import { freePort, REDIS_URL, requireRedis, SpawnedRedis } from '../redis/server.js';
import { dropRedisPrefix, POSTGRES, requirePostgres } from './servers.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | null) => (value === null ? null : new TextDecoder().decode(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The real store, recording every entry it is asked to write (to count store writes per key). */
function recording(store: PersistStore): { store: PersistStore; written: PersistEntry[] } {
  const written: PersistEntry[] = [];
  return {
    written,
    store: {
      claim: (key, token) => store.claim(key, token),
      write: (entries) => (written.push(...entries), store.write(entries)),
      get commands() {
        return store.commands;
      },
      close: () => store.close(),
    },
  };
}

/** What the store holds for `key` at `token`, read through another connection (a claim at the same token changes nothing). */
async function stored(reader: PersistStore, key: string, token: number): Promise<string | null> {
  const { value, fenced } = await reader.claim(key, token);
  if (fenced) throw new Error(`${key} is fenced at ${token}`);
  return text(value);
}

interface Backend {
  /** Two stores on one fresh namespace, each with its own connection: the persister's and a reader's. */
  open(): [PersistStore, PersistStore];
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

const redisBackend = (): Backend => {
  const prefixes: string[] = [];
  return {
    setup: async () => (await requireRedis()).disconnect(),
    open: () => {
      const prefix = `test:persister:${randomUUID().slice(0, 8)}`;
      prefixes.push(prefix);
      return [redisPersist({ redis: REDIS_URL, prefix }), redisPersist({ redis: REDIS_URL, prefix })];
    },
    teardown: async () => void (await Promise.all(prefixes.map((prefix) => dropRedisPrefix(prefix)))),
  };
};

const postgresBackend = (): Backend => {
  const tables: string[] = [];
  let admin: pg.Pool | undefined;
  return {
    setup: async () => void (admin = await requirePostgres()),
    open: () => {
      const table = `persister_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      tables.push(table);
      return [postgresPersist({ postgres: POSTGRES, table }), postgresPersist({ postgres: POSTGRES, table })];
    },
    teardown: async () => {
      for (const table of tables) await admin?.query(`DROP TABLE IF EXISTS ${table}`);
      await admin?.end();
    },
  };
};

describe.each([
  ['Redis', redisBackend()],
  ['PostgreSQL', postgresBackend()],
])('Persister on %s', (_name, backend) => {
  const open: Persister[] = [];
  const readers: PersistStore[] = [];
  const persister = (options: Omit<PersistOptions, 'store'>, hooks?: PersisterHooks) => {
    const [store, reader] = backend.open();
    const record = recording(store);
    const created = new Persister({ store: record.store, ...options }, hooks);
    open.push(created);
    readers.push(reader);
    return { persister: created, reader, written: record.written };
  };
  beforeAll(() => backend.setup());
  afterAll(async () => {
    await Promise.all([...open.map((p) => p.close().catch(() => {})), ...readers.map((r) => r.close())]);
    await backend.teardown();
  });

  it("'through' resolves once the store has the value", async () => {
    const { persister: p, reader } = persister({ write: 'through' });
    expect(await p.write('cart-1', bytes('{"items":1}'), 3)).toBe(true);
    expect(await stored(reader, 'cart-1', 3)).toBe('{"items":1}');
    expect(await p.write('cart-1', null, 3)).toBe(true);
    expect(await stored(reader, 'cart-1', 3)).toBeNull();
  });

  it("'through' sends the writes of one turn in batches of `batch`, one round trip each", async () => {
    const { persister: p, reader } = persister({ write: 'through', batch: 100 });
    await p.write('warm-up', bytes('x'), 1); // table or script on first use
    const before = p.stats();
    const results = await Promise.all(Array.from({ length: 250 }, (_, i) => p.write(`key-${i}`, bytes(`v${i}`), 1)));
    expect(results.every(Boolean)).toBe(true);
    const after = p.stats();
    expect(after.flushes - before.flushes).toBe(3);
    expect(after.commands - before.commands).toBe(3);
    expect(await stored(reader, 'key-249', 1)).toBe('v249');
  });

  it("'through' keeps each key's writes in order while earlier ones are in flight: the store ends with the last", async () => {
    const { persister: p, reader } = persister({ write: 'through', batch: 4 });
    await p.write('warm-up', bytes('x'), 1);
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < 120; i++) {
      writes.push(p.write(`k${i % 3}`, bytes(`v${i}`), 1));
      if (i % 7 === 0) await sleep(0); // let batches go out between writes
    }
    expect((await Promise.all(writes)).every(Boolean)).toBe(true);
    expect(p.stats().flushes).toBeGreaterThan(3); // several batches, each while the next writes queued
    expect(await Promise.all(['k0', 'k1', 'k2'].map((key) => stored(reader, key, 1)))).toEqual(['v117', 'v118', 'v119']);
  });

  it("'behind' resolves at once and coalesces: 1,000 writes to one key in a turn become one store write at flush()", async () => {
    const { persister: p, reader, written } = persister({ write: 'behind', flushWithin: 60_000 });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.write('hot', bytes(`v${i}`), 1)));
    expect(results.every(Boolean)).toBe(true);
    expect(p.stats()).toMatchObject({ writes: 1000, coalesced: 999, flushes: 0, pending: 1 });
    await p.flush();
    expect(written.filter((entry) => entry.key === 'hot')).toHaveLength(1);
    expect(p.stats()).toMatchObject({ flushes: 1, pending: 0 });
    expect(await stored(reader, 'hot', 1)).toBe('v999');
  });

  it("'behind': N writes to one key over T ms reach the store at most 1 + T / flushWithin times", async () => {
    const flushWithin = 100;
    const { persister: p, reader, written } = persister({ write: 'behind', flushWithin });
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 6 * flushWithin) {
      await p.write('counter', bytes(String(n++)), 1);
      await sleep(2);
    }
    const elapsed = Date.now() - started;
    await p.flush();
    const stores = written.filter((entry) => entry.key === 'counter').length;
    expect(n).toBeGreaterThan(50);
    expect(stores).toBeGreaterThanOrEqual(2); // flushed during the writes, not only by flush()
    expect(stores).toBeLessThanOrEqual(1 + Math.ceil(elapsed / flushWithin));
    expect(await stored(reader, 'counter', 1)).toBe(String(n - 1));
  });

  it("'behind' stores a write within flushWithin, not before", async () => {
    const flushWithin = 200;
    const { persister: p, reader } = persister({ write: 'behind', flushWithin });
    await stored(reader, 'warm-up', 1);
    const started = Date.now();
    await p.write('k', bytes('v'), 1);
    await until(async () => (await stored(reader, 'k', 1)) === 'v', 'the value in the store', flushWithin + 2000);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(flushWithin - 2); // timers may round down by a millisecond
    expect(elapsed).toBeLessThan(flushWithin + 1000); // the bound plus a round trip on a busy machine
  });

  it('flush(keys) stores those keys now and leaves the others pending; flush() stores all', async () => {
    const { persister: p, reader } = persister({ write: 'behind', flushWithin: 60_000 });
    await p.write('a', bytes('a1'), 1);
    await p.write('b', bytes('b1'), 1);
    await p.flush(['a']);
    expect(await stored(reader, 'a', 1)).toBe('a1');
    expect(await stored(reader, 'b', 1)).toBeNull();
    expect(p.stats().pending).toBe(1);
    await p.flush();
    expect(await stored(reader, 'b', 1)).toBe('b1');
    expect(p.stats().pending).toBe(0);
    await p.flush(['nothing-pending']);
  });

  it('a fenced write calls onFenced (through: resolves false; behind: at the flush) and never lands', async () => {
    const fenced: string[] = [];
    const errors: unknown[] = [];
    const logger: RingRouteLogger = { debug() {}, info() {}, warn() {}, error: (details) => errors.push(details) };
    const through = persister({ write: 'through' }, { onFenced: (key) => fenced.push(key) });
    await through.reader.claim('taken', 10); // a newer owner
    expect(await through.persister.write('taken', bytes('stale'), 9)).toBe(false);
    expect(fenced).toEqual(['taken']);
    expect(through.persister.stats().fenced).toBe(1);
    expect(await stored(through.reader, 'taken', 10)).toBeNull();

    const behind = persister(
      { write: 'behind', flushWithin: 60_000 },
      {
        onFenced: (key) => {
          fenced.push(key);
          throw new Error('an engine bug');
        },
        logger,
      },
    );
    await behind.reader.claim('taken-too', 10);
    expect(await behind.persister.write('taken-too', bytes('stale'), 9)).toBe(true);
    await behind.persister.flush();
    expect(fenced).toEqual(['taken', 'taken-too']);
    expect(errors).toHaveLength(1); // the throwing callback was logged, nothing crashed
    expect(await stored(behind.reader, 'taken-too', 10)).toBeNull();
  });

  it("claim sends the key's pending write first, so it is not fenced by the owner's own claim", async () => {
    const fenced: string[] = [];
    const { persister: p } = persister({ write: 'behind', flushWithin: 60_000 }, { onFenced: (key) => fenced.push(key) });
    await p.write('k', bytes('at 5'), 5);
    const claimed = await p.claim('k', 6);
    expect({ value: text(claimed.value), fenced: claimed.fenced }).toEqual({ value: 'at 5', fenced: false });
    expect(fenced).toEqual([]);
  });

  it('close() flushes every pending write, then closes the store; later writes throw', async () => {
    const { persister: p, reader } = persister({ write: 'behind', flushWithin: 60_000 });
    await Promise.all(['a', 'b', 'c'].map((key) => p.write(key, bytes(key), 2)));
    await p.close();
    expect(await Promise.all(['a', 'b', 'c'].map((key) => stored(reader, key, 2)))).toEqual(['a', 'b', 'c']);
    expect(() => p.write('a', bytes('late'), 2)).toThrow(/closed/);
    await p.close(); // twice is fine
  });
});

describe('Persister while the store fails', () => {
  it("'behind' keeps the latest value and stores it when the store is back; 'through' rejects", async () => {
    const server = new SpawnedRedis(await freePort());
    await server.start();
    // No offline queue: commands fail while the server is gone instead of waiting for it.
    const connect = () =>
      redisPersist({ redis: { host: '127.0.0.1', port: server.port, enableOfflineQueue: false, maxRetriesPerRequest: 0 } });
    const warnings: unknown[] = [];
    const logger: RingRouteLogger = { debug() {}, info() {}, warn: (details) => warnings.push(details), error() {} };
    const behind = new Persister({ store: connect(), write: 'behind', flushWithin: 20 }, { logger });
    const through = new Persister({ store: connect(), write: 'through' });
    const reader = connect();
    try {
      // Without an offline queue, a command before the connection is up fails too.
      await until(
        async () =>
          (await behind
            .claim('k', 1)
            .then(() => through.claim('t', 1))
            .then(() => reader.claim('r', 1))
            .catch(() => null)) !== null,
        'connections',
      );
      await server.kill();
      await behind.write('k', bytes('first'), 1);
      await behind.write('k', bytes('latest'), 1);
      await expect(behind.flush()).rejects.toThrow();
      await expect(through.write('t', bytes('lost'), 1)).rejects.toThrow();
      expect(behind.stats()).toMatchObject({ pending: 1 });
      expect(behind.stats().errors).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      await server.start();
      await until(() => behind.stats().pending === 0, 'the pending write to be stored');
      await until(async () => (await reader.claim('r', 1).catch(() => null)) !== null, 'the reader to reconnect');
      expect(await stored(reader, 'k', 1)).toBe('latest');
    } finally {
      await Promise.all([behind.close().catch(() => {}), through.close().catch(() => {}), reader.close()]);
      await server.kill();
    }
  });
});

describe('Persister options', () => {
  const store = redisPersist({ redis: REDIS_URL });
  afterAll(() => store.close());
  const create = (options: unknown, hooks?: PersisterHooks) => () => new Persister(options as PersistOptions, hooks);

  it('names each nested option in its error', () => {
    expect(create(undefined)).toThrow(RingRouteConfigError);
    expect(create(undefined)).toThrow(/^persist: must be an object/);
    expect(create({ write: 'through' })).toThrow(/^persist\.store: must be a PersistStore/);
    expect(create({ store: { write() {} }, write: 'through' })).toThrow(/^persist\.store: must be a PersistStore/);
    expect(create({ store })).toThrow(/^persist\.write: must be one of "through", "behind" \(got undefined\)/);
    expect(create({ store, write: 'later' })).toThrow(/^persist\.write: must be one of/);
    expect(create({ store, write: 'through', flushWithin: 50 })).toThrow(/^persist\.flushWithin: applies to write: 'behind' only/);
    expect(create({ store, write: 'behind', flushWithin: 0 })).toThrow(/^persist\.flushWithin: must be between 1 and/);
    expect(create({ store, write: 'behind', flushWithin: '100' })).toThrow(/^persist\.flushWithin: must be a number/);
    expect(create({ store, write: 'behind', batch: 0.5 })).toThrow(/^persist\.batch: must be an integer/);
    expect(create({ store, write: 'behind', flushwithin: 100 })).toThrow(
      /^persist\.flushwithin: unknown option \(did you mean `flushWithin`\?\)/,
    );
    expect(create({ store, write: 'sometimes' }, { option: 'owned.persist' })).toThrow(/^owned\.persist\.write: must be one of/);
  });

  it('refuses a malformed write at the call, before anything is queued', () => {
    const p = new Persister({ store, write: 'behind' });
    expect(() => p.write('k', bytes('v'), -1)).toThrow(/^token: must be between 0 and/);
    expect(() => p.write('\uD800', bytes('v'), 1)).toThrow(/^key: must be well-formed/);
    expect(() => p.write('k', 'v' as unknown as Uint8Array, 1)).toThrow(/^value: must be a Uint8Array or null/);
    expect(p.stats()).toMatchObject({ writes: 0, pending: 0 });
  });
});
