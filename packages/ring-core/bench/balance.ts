import HashRing from 'hashring';
import { analyzeDistribution, createRing, measureMovement, type RingOptions } from '../src/index.js';
import { fmt, keys16, table, targets } from './support/measure.js';

// Balance of 1M keys over 10 nodes, and the keys that move when an 11th node joins, per strategy.

const KEYS = keys16(1_000_000);
const nodes = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}` }));
const optimal = 1 / 11;

const configs: [string, Omit<RingOptions, 'nodes'>, { maxLoad?: number; movement: number }][] = [
  ['ring@150', { vnodes: 150 }, { maxLoad: 1.15, movement: 1.1 }],
  ['ring@1000', { vnodes: 1000 }, { movement: 1.1 }],
  ['maglev', { strategy: 'maglev' }, { maxLoad: 1.02, movement: 2.5 }],
  ['rendezvous', { strategy: 'rendezvous' }, { movement: 1.1 }],
];

const rows: (string | number)[][] = [];
const balance: { name: string; maxLoad: number; limit: number }[] = [];
const movement: { name: string; ratio: number; limit: number }[] = [];
for (const [name, options, target] of configs) {
  const before = await createRing({ nodes, ...options });
  const after = before.with({ add: [{ id: 'node-10' }] });
  const d = analyzeDistribution(before, KEYS);
  const m = measureMovement(before, after, KEYS);
  const onto = (m.to['node-10'] ?? 0) / m.moved;
  rows.push([
    name,
    fmt(d.maxLoad, 3),
    fmt(d.minLoad, 3),
    fmt(d.stdDev, 4),
    `${fmt(m.fraction * 100, 2)}%`,
    `${fmt(m.fraction / optimal, 3)}x`,
    `${fmt(onto * 100, 1)}%`,
  ]);
  if (target.maxLoad) balance.push({ name, maxLoad: d.maxLoad, limit: target.maxLoad });
  movement.push({ name, ratio: m.fraction / optimal, limit: target.movement });
}

// The npm hashring package (ketama, 160 points per server) on the same keys, for reference.
const peer = new HashRing(nodes.map((n) => n.id));
const counts = new Map<string, number>();
for (const key of KEYS) counts.set(peer.get(key), (counts.get(peer.get(key)) ?? 0) + 1);
const loads = [...counts.values()].map((c) => c / (KEYS.length / nodes.length));
const mean = loads.reduce((s, l) => s + l, 0) / loads.length;
const sd = Math.sqrt(loads.reduce((s, l) => s + (l - mean) ** 2, 0) / loads.length);
rows.push(['hashring (npm, 160 points)', fmt(Math.max(...loads), 3), fmt(Math.min(...loads), 3), fmt(sd, 4), '-', '-', '-']);

table(
  'Balance (10 nodes, 1M keys) and movement (adding an 11th node; optimal = 1/11 = 9.09%)',
  ['strategy', 'max/avg', 'min/avg', 'std dev (of load)', 'keys moved', 'vs optimal', 'moved onto the new node'],
  rows,
);
targets([
  [
    `max/avg load <= ${balance.map((b) => `${b.limit} (${b.name})`).join(', ')}`,
    balance.map((b) => fmt(b.maxLoad, 3)).join(', '),
    balance.every((b) => b.maxLoad <= b.limit),
  ],
  [
    `keys moved by an 11th node / optimal <= ${movement.map((m) => `${m.limit}x (${m.name})`).join(', ')}`,
    movement.map((m) => `${fmt(m.ratio, 3)}x`).join(', '),
    movement.every((m) => m.ratio <= m.limit),
  ],
]);
