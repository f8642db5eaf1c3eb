import HashRing from 'hashring';
import { createRing, type RingNode } from '../src/index.js';
import { LruCache } from './support/lru.js';
import { BATCH, fmt, keys16, table, targets, timeTasks } from './support/measure.js';

// owner() at 10 nodes x 150 vnodes with 16-byte keys, hash included, side by side with the npm `hashring`
// package (ketama over md5, 160 points per server; its 5000-entry LRU never hits on this key stream).

const ids = Array.from({ length: 10 }, (_, i) => `node-${i}`);
const nodes = ids.map((id) => ({ id }));
const keys = keys16(1 << 16);
const mask = keys.length - 1;
let cursor = 0;
let sink = 0;

/** Runs `lookup` over the next BATCH keys of the stream. */
const batch = (lookup: (key: string) => unknown) => () => {
  for (let i = 0; i < BATCH; i++) if (lookup(keys[cursor++ & mask]!)) sink++;
};

const ring = await createRing({ nodes });
const ring64 = await createRing({ nodes, hash: 'xxh64' });
const maglev = await createRing({ nodes, strategy: 'maglev' });
const rendezvous = await createRing({ nodes, strategy: 'rendezvous' });
const peer = new HashRing(ids);

// The LRU comparison needs fresh key strings, as requests bring them: a string used before carries its
// cached hash, which would flatter the Map. Both sides build the key the same way.
const suffixes = keys.map((k) => k.slice(4));
const cache = new LruCache<RingNode>(suffixes.length);
for (const suffix of suffixes) cache.set(`key-${suffix}`, ring.owner(`key-${suffix}`)!);
const fresh = (lookup: (key: string) => unknown) => () => {
  for (let i = 0; i < BATCH; i++) if (lookup(`key-${suffixes[cursor++ & mask]!}`)) sink++;
};

// The ring strategy first, before any other strategy's placement has been looked up in this process (an
// application uses one strategy; call sites that have seen three are slower for all of them).
const rows = await timeTasks([
  ['ring owner() xxh32 (default)', batch((k) => ring.owner(k)), BATCH],
  ['ring owner() xxh64', batch((k) => ring64.owner(k)), BATCH],
  ['ring owners(key, 3) xxh32', batch((k) => ring.owners(k, 3)), BATCH],
  ['hashring get() (npm, md5)', batch((k) => peer.get(k)), BATCH],
  ['fresh key: ring owner()', fresh((k) => ring.owner(k)), BATCH],
  ['fresh key: LRU cache hit', fresh((k) => cache.get(k)), BATCH],
]);
rows.push(
  ...(await timeTasks([
    ['maglev owner()', batch((k) => maglev.owner(k)), BATCH],
    ['rendezvous owner()', batch((k) => rendezvous.owner(k)), BATCH],
  ])),
);
const ns = Object.fromEntries(rows.map((r) => [r.name, r.ns]));
const owner = ns['ring owner() xxh32 (default)']!;
const hashring = ns['hashring get() (npm, md5)']!;
const owners3 = ns['ring owners(key, 3) xxh32']!;
const plain = ns['fresh key: ring owner()']!;
const hit = ns['fresh key: LRU cache hit']!;

table(
  'Lookups (10 nodes x 150 vnodes, 16-byte keys, hash included)',
  ['task', 'ns/op', 'vs ring owner()'],
  rows.map((r) => [r.name, fmt(r.ns), `${fmt(r.ns / owner, 2)}x`]),
);
targets([
  ['owner() <= 100 ns/op', `${fmt(owner)} ns`, owner <= 100],
  ['owner() >= 20x faster than hashring', `${fmt(hashring / owner)}x`, hashring / owner >= 20],
  ['owners(key, 3) <= 1.5x owner()', `${fmt(owners3 / owner, 2)}x`, owners3 / owner <= 1.5],
  [
    'LRU hit faster than owner() (else no cache)',
    `hit ${fmt(hit)} ns vs ${fmt(plain)} ns (${fmt(hit / plain, 2)}x)`,
    hit < plain ? 'cache would pay' : 'no: the ring has no cache',
  ],
]);
if (sink < 0) console.log(sink);
