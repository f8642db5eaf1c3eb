import { createRing, loadHash, type Ring } from '../src/index.js';
import { resolveNodes } from '../src/ring/nodes.js';
import { STRATEGIES } from '../src/strategy/index.js';
import { fmt, table, targets, timeTasks } from './support/measure.js';

// with() adding or removing one node (a full new snapshot, epoch + 1) and memory per virtual node.

const members = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `node-${i}` }));

const rings: Record<string, Ring> = {};
for (const n of [10, 100]) rings[`ring@150 ${n}`] = await createRing({ nodes: members(n) });
for (const strategy of ['maglev', 'rendezvous'] as const) rings[`${strategy} 10`] = await createRing({ nodes: members(10), strategy });

// Several changes per timed call, so the CPU clock's microsecond ticks stay small against a sample.
const times = (count: number, change: () => unknown) => () => {
  for (let i = 0; i < count; i++) change();
};
const tasks: [string, () => unknown, number][] = [];
for (const [label, ring] of Object.entries(rings)) {
  const [name, n] = label.split(' ');
  const count = name === 'maglev' ? 1 : 20;
  tasks.push([`${name} with({ add }) at ${n} nodes`, times(count, () => ring.with({ add: [{ id: 'extra' }] })), count]);
  tasks.push([`${name} with({ remove }) at ${n} nodes`, times(count, () => ring.with({ remove: ['node-3'] })), count]);
}
const hundred = rings['ring@150 100']!;
tasks.push([
  'ring@150 with({ update: status }) at 100 nodes',
  times(20, () => hundred.with({ update: [{ id: 'node-3', status: 'dead' }] })),
  20,
]);
const rows = await timeTasks(tasks, 1000);
const us = (name: string) => rows.find((r) => r.name === name)!.ns / 1000;

table(
  'Membership changes (with(): builds the next immutable snapshot)',
  ['task', 'us/op'],
  rows.map((r) => [r.name, fmt(r.ns / 1000, 2)]),
);

const hash = await loadHash('xxh32');
const memory = [10, 100].map((n) => {
  const placement = STRATEGIES.ring({ nodes: resolveNodes(members(n)), hash, vnodes: 150 });
  return [`ring@150, ${n} nodes`, placement.byteLength, n * 150, placement.byteLength / (n * 150)] as const;
});
table(
  'Memory of the lookup structure',
  ['ring', 'bytes', 'virtual nodes', 'bytes per virtual node'],
  memory.map(([name, bytes, v, per]) => [name, bytes, v, fmt(per, 1)]),
);

const addRemove = (n: number): [number, number] => [
  us(`ring@150 with({ add }) at ${n} nodes`),
  us(`ring@150 with({ remove }) at ${n} nodes`),
];
const [add10, remove10] = addRemove(10);
const [add100, remove100] = addRemove(100);
targets([
  ['with() add / remove at 10 nodes <= 100 us', `${fmt(add10, 1)} / ${fmt(remove10, 1)} us`, Math.max(add10, remove10) <= 100],
  ['with() add / remove at 100 nodes <= 1 ms', `${fmt(add100, 1)} / ${fmt(remove100, 1)} us`, Math.max(add100, remove100) <= 1000],
  ['memory per virtual node <= 8 bytes', `${fmt(memory[0]![3], 1)} bytes`, memory[0]![3] <= 8],
]);
