/**
 * The one PersistStore conformance suite: every store (Redis standalone, Sentinel and Cluster, PostgreSQL) must pass
 * the same checks. A store's test file calls `persistStoreSuite(name, setup)` once; `setup` runs once per file and
 * every check opens stores on a fresh namespace (a key prefix, a table) of that one server.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import type { PersistStore } from '../../src/persist/types.js';

export interface StoreFixture {
  /** A store with a connection of its own on `namespace`; every call is a separate client. */
  connect(namespace: string): PersistStore;
  /** Servers one batch may span (a pipeline or statement per server): 3 masters on a Cluster, else 1. */
  servers: number;
  /** Removes a namespace's records. */
  drop(namespace: string): Promise<void>;
  close?(): Promise<void>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | null) => (value === null ? null : new TextDecoder().decode(value));

export function persistStoreSuite(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`persist store conformance: ${name}`, () => {
    let fixture: StoreFixture;
    let stores: PersistStore[] = [];
    const namespaces: string[] = [];

    /** Stores on one fresh namespace, each with its own connection. */
    const open = (count = 1) => {
      const namespace = `p${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      namespaces.push(namespace);
      const opened = Array.from({ length: count }, () => fixture.connect(namespace));
      stores.push(...opened);
      return opened as [PersistStore, ...PersistStore[]];
    };

    beforeAll(async () => {
      fixture = await setup();
    }, 60_000);
    afterAll(async () => {
      await Promise.all(stores.map((store) => store.close()));
      stores = [];
      for (const namespace of namespaces) await fixture?.drop(namespace);
      await fixture?.close?.();
    }, 30_000);

    it('claim on a missing key records the token: an older claim or write is fenced, the same token is not', async () => {
      const [store] = open();
      expect(await store.claim('cart-1', 5)).toEqual({ value: null, fenced: false });
      expect(await store.claim('cart-1', 4)).toEqual({ value: null, fenced: true });
      expect(await store.write([{ key: 'cart-1', value: bytes('old owner'), token: 4 }])).toEqual([false]);
      expect(await store.claim('cart-1', 5)).toEqual({ value: null, fenced: false });
      expect(await store.write([{ key: 'cart-1', value: bytes('owner'), token: 5 }])).toEqual([true]);
    });

    it('claim raises the token and returns the value; it never lowers the token', async () => {
      const [store] = open();
      await store.write([{ key: 'k', value: bytes('v3'), token: 3 }]);
      const claimed = await store.claim('k', 7);
      expect({ value: text(claimed.value), fenced: claimed.fenced }).toEqual({ value: 'v3', fenced: false });
      expect(await store.claim('k', 5)).toEqual({ value: null, fenced: true });
      expect(await store.write([{ key: 'k', value: bytes('v6'), token: 6 }])).toEqual([false]);
      expect(text((await store.claim('k', 7)).value)).toBe('v3');
      expect(await store.write([{ key: 'k', value: bytes('v7'), token: 7 }])).toEqual([true]);
      expect(text((await store.claim('k', 8)).value)).toBe('v7');
    });

    it('a write with an older token never lands; the same or a newer token does', async () => {
      const [store] = open();
      expect(await store.write([{ key: 'k', value: bytes('a'), token: 10 }])).toEqual([true]);
      expect(await store.write([{ key: 'k', value: bytes('stale'), token: 9 }])).toEqual([false]);
      expect(text((await store.claim('k', 10)).value)).toBe('a');
      expect(await store.write([{ key: 'k', value: bytes('b'), token: 10 }])).toEqual([true]);
      expect(await store.write([{ key: 'k', value: bytes('c'), token: 11 }])).toEqual([true]);
      expect(text((await store.claim('k', 11)).value)).toBe('c');
    });

    it('many concurrent writers and claimers on separate connections, mixed tokens: the value is from the highest token', async () => {
      const clients = open(4);
      const writes: Promise<{ token: number; applied: boolean }>[] = [];
      const claims: Promise<unknown>[] = [];
      let top = 0;
      for (let i = 0; i < 400; i++) {
        const token = 1 + ((i * 7919) % 97); // every token 1..97, in a scrambled order
        top = Math.max(top, token);
        const store = clients[i % clients.length]!;
        const value = bytes(`${token}:${i}`);
        // Single writes, batches with another key, and claims, all interleaved.
        const written =
          i % 3 === 0
            ? store
                .write([
                  { key: 'other', value, token },
                  { key: 'hot', value, token },
                ])
                .then((r) => r[1]!)
            : store.write([{ key: 'hot', value, token }]).then((r) => r[0]!);
        writes.push(written.then((applied) => ({ token, applied })));
        if (i % 10 === 0) claims.push(store.claim('hot', token - 1));
      }
      const results = await Promise.all(writes);
      await Promise.all(claims);
      // Nothing is above the top token, so every write carrying it lands.
      expect(results.filter((r) => r.token === top).every((r) => r.applied)).toBe(true);
      const final = text((await clients[0]!.claim('hot', top)).value)!;
      expect(Number(final.split(':')[0])).toBe(top);
      expect(await clients[1]!.claim('hot', top - 1)).toEqual({ value: null, fenced: true });
    });

    it('a delete (value null) removes the value and keeps the token, also on a missing key', async () => {
      const [store] = open();
      await store.write([{ key: 'k', value: bytes('v'), token: 5 }]);
      expect(await store.write([{ key: 'k', value: null, token: 5 }])).toEqual([true]);
      expect(await store.claim('k', 5)).toEqual({ value: null, fenced: false });
      expect(await store.write([{ key: 'k', value: bytes('stale'), token: 4 }])).toEqual([false]);
      expect(await store.claim('k', 4)).toEqual({ value: null, fenced: true });
      expect(await store.write([{ key: 'never-written', value: null, token: 8 }])).toEqual([true]);
      expect(await store.claim('never-written', 7)).toEqual({ value: null, fenced: true });
    });

    it('a batch answers per entry, in order (a key twice in one batch included); an empty batch sends nothing', async () => {
      const [store] = open();
      await store.write([
        { key: 'a', value: bytes('a5'), token: 5 },
        { key: 'b', value: bytes('b1'), token: 1 },
      ]);
      const before = store.commands;
      expect(await store.write([])).toEqual([]);
      expect(store.commands).toBe(before);
      expect(
        await store.write([
          { key: 'a', value: bytes('a4'), token: 4 },
          { key: 'b', value: bytes('b2'), token: 2 },
          { key: 'c', value: bytes('c1'), token: 1 },
          { key: 'd', value: null, token: 3 },
          { key: 'a', value: bytes('a6'), token: 6 },
          { key: 'a', value: bytes('a5 again'), token: 5 },
        ]),
      ).toEqual([false, true, true, true, true, false]);
      const values = await Promise.all(['a', 'b', 'c', 'd'].map(async (key) => text((await store.claim(key, 6)).value)));
      expect(values).toEqual(['a6', 'b2', 'c1', null]);
    });

    it('a batch of many keys costs one round trip per server, not one per entry', async () => {
      const [store] = open();
      await store.write([{ key: 'warm-up', value: bytes('x'), token: 1 }]); // loads scripts, creates tables
      const entries = Array.from({ length: 200 }, (_, i) => ({ key: `key-${i}`, value: bytes(`value-${i}`), token: 1 }));
      const before = store.commands;
      expect(await store.write(entries)).toEqual(entries.map(() => true));
      expect(store.commands - before).toBeGreaterThanOrEqual(1);
      expect(store.commands - before).toBeLessThanOrEqual(fixture.servers);
      const sample = await store.claim('key-137', 1);
      expect(text(sample.value)).toBe('value-137');
    });

    it('values are bytes, round-tripped exactly: empty (not null), every byte value, 1 MB, a view into a larger buffer', async () => {
      const [store, other] = open(2);
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const big = new Uint8Array(randomBytes(1024 * 1024));
      const backing = Uint8Array.from({ length: 64 }, (_, i) => i);
      const view = backing.subarray(10, 20);
      const entries = [
        { key: 'empty', value: new Uint8Array(0), token: 1 },
        { key: 'every', value: every, token: 1 },
        { key: 'big', value: big, token: 1 },
        { key: 'view', value: view, token: 1 },
      ];
      expect(await store.write(entries)).toEqual([true, true, true, true]);
      for (const { key, value } of entries) {
        const claimed = await other!.claim(key, 1);
        expect(claimed.fenced).toBe(false);
        expect(claimed.value).toBeInstanceOf(Uint8Array);
        expect(claimed.value!.byteLength).toBe(value.byteLength);
        expect(Buffer.from(claimed.value!).equals(Buffer.from(value))).toBe(true);
      }
    });

    it('keys are independent records, whatever their characters', async () => {
      const [store] = open();
      const keys = ['a', 'a:b', 'A', 'ключ', '{tag}x', '{tag}y', 'with space', 'emoji-\u{1F6D2}', ''];
      expect(await store.write(keys.map((key, i) => ({ key, value: bytes(`v${i}`), token: 1 + i })))).toEqual(keys.map(() => true));
      for (const [i, key] of keys.entries()) {
        expect(text((await store.claim(key, 1 + i)).value)).toBe(`v${i}`);
        expect((await store.claim(key, i)).fenced).toBe(true);
      }
    });

    it('tokens up to Number.MAX_SAFE_INTEGER compare exactly (a fresh cluster may start its sequence from the clock)', async () => {
      const [store] = open();
      const max = Number.MAX_SAFE_INTEGER;
      expect(await store.write([{ key: 'k', value: bytes('top-1'), token: max - 1 }])).toEqual([true]);
      expect(await store.write([{ key: 'k', value: bytes('top-2'), token: max - 2 }])).toEqual([false]);
      expect(await store.claim('k', max - 2)).toEqual({ value: null, fenced: true });
      expect(await store.write([{ key: 'k', value: bytes('top'), token: max }])).toEqual([true]);
      expect(text((await store.claim('k', max)).value)).toBe('top');
      expect((await store.claim('k', max - 1)).fenced).toBe(true);
    });

    it('refuses tokens it cannot compare exactly, malformed keys and values, and writes nothing of such a batch', async () => {
      const [store] = open();
      for (const token of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, '5'])
        await expect(store.claim('k', token as number)).rejects.toThrow(RingRouteConfigError);
      for (const key of ['\uD800', 'nul\0byte', 42])
        await expect(store.write([{ key: key as string, value: null, token: 1 }])).rejects.toThrow(/key: must/);
      await expect(
        store.write([
          { key: 'fine', value: bytes('x'), token: 1 },
          { key: 'bad', value: 'text' as unknown as Uint8Array, token: 1 },
        ]),
      ).rejects.toThrow(/value: must be a Uint8Array or null/);
      expect(await store.claim('fine', 0)).toEqual({ value: null, fenced: false });
    });
  });
}
