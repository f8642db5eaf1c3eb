import { createRing } from '../src/index.js';
import { BATCH, fmt, keys16, table, targets, timeTasks } from './support/measure.js';

// owner() of the edge strategies side by side with the default ring, at 10 nodes, 16-byte keys, hash included:
// 'nginx' (CRC-32 key hash, 160 points per server, first point >= key) and 'haproxy' (16 points per server,
// closest point), the latter with its bare `hash-type consistent` hash (sdbm + avalanche) and with crc32.

const urls = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}`, url: `http://10.0.0.${i + 1}:8080`, serverId: i + 1 }));
const keys = keys16(1 << 16);
const mask = keys.length - 1;
let cursor = 0;
let sink = 0;

const batch = (lookup: (key: string) => unknown) => () => {
  for (let i = 0; i < BATCH; i++) if (lookup(keys[cursor++ & mask]!)) sink++;
};

const ring = await createRing({ nodes: urls });
const nginx = await createRing({ nodes: urls, strategy: 'nginx' });
const haproxy = await createRing({ nodes: urls, strategy: 'haproxy' });
const haproxyCrc = await createRing({ nodes: urls, strategy: 'haproxy', hash: 'crc32' });
const downNginx = nginx.with({ update: [{ id: 'node-3', status: 'dead' }] });
const downHaproxy = haproxy.with({ update: [{ id: 'node-3', status: 'dead' }] });

const rows = await timeTasks([
  ['ring owner() xxh32 (default)', batch((k) => ring.owner(k)), BATCH],
  ['nginx owner() (crc32)', batch((k) => nginx.owner(k)), BATCH],
  ['haproxy owner() (sdbm + avalanche)', batch((k) => haproxy.owner(k)), BATCH],
  ['haproxy owner() (crc32)', batch((k) => haproxyCrc.owner(k)), BATCH],
  ['nginx owner(), 1 of 10 dead', batch((k) => downNginx.owner(k)), BATCH],
  ['haproxy owner(), 1 of 10 dead', batch((k) => downHaproxy.owner(k)), BATCH],
]);
const base = rows[0]!.ns;
table(
  'Edge strategies: owner() (10 nodes, 16-byte keys, hash included)',
  ['task', 'ns/op', 'vs ring owner()'],
  rows.map((r) => [r.name, fmt(r.ns), `${fmt(r.ns / base, 2)}x`]),
);
targets([
  ["owner() of 'nginx' / 'haproxy' beside the ring's (no target)", `${fmt(rows[1]!.ns / base, 2)}x / ${fmt(rows[2]!.ns / base, 2)}x`],
]);
if (sink < 0) console.log(sink);
