import type { OwnershipRange, RingNode } from '../types.js';
import { checkNodeCount, type Placement, type PlacementBuilder, type PlacementInput } from './placement.js';

/**
 * Positions per node: vnodes scaled by weight. Weight 0 = no points (the node owns nothing); any
 * positive weight gets at least one point so a small but live node still owns something.
 */
export const pointCount = (node: RingNode, vnodes: number) =>
  node.weight > 0 ? Math.max(1, Math.round(vnodes * node.weight)) : 0;

/**
 * Classic consistent hashing with virtual nodes: sorted positions in a Uint32Array, their owners in a
 * Uint16Array (6 bytes per virtual node), binary search to the first position >= the key's, wrapping.
 * Ties on a position break by node index, which follows id order, so every router agrees.
 */
class RingPlacement implements Placement {
  constructor(
    readonly positions: Uint32Array,
    readonly owners: Uint16Array,
    readonly holders: number,
  ) {}

  get steps() {
    return this.owners.length;
  }

  get byteLength() {
    return this.positions.byteLength + this.owners.byteLength;
  }

  private indexOf(position: number): number {
    const { positions } = this;
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[mid]! < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  first(position: number): number {
    return this.positions.length === 0 ? -1 : this.owners[this.indexOf(position)]!;
  }

  start(position: number): number {
    return this.indexOf(position);
  }

  at(cursor: number, step: number): number {
    return this.owners[(cursor + step) % this.owners.length]!;
  }

  ranges(index: number): OwnershipRange[] {
    const { positions, owners } = this;
    const out: OwnershipRange[] = [];
    for (let i = 0; i < positions.length; i++) {
      if (owners[i] !== index) continue;
      const prev = i === 0 ? positions[positions.length - 1]! : positions[i - 1]!;
      const start = (prev + 1) >>> 0;
      // A run of points of the same node extends the previous arc.
      const last = out[out.length - 1];
      if (last && i > 0 && owners[i - 1] === index) last.end = positions[i]!;
      else out.push({ start, end: positions[i]! });
    }
    return out;
  }
}

// Packs (position, node index) into one float so a single typed-array sort orders both (2^32 * 2^16 < 2^53).
const SHIFT = 65536;

function hashPoints(node: RingNode, index: number, vnodes: number, hash: (key: string) => number, into: number[]) {
  const count = pointCount(node, vnodes);
  for (let v = 0; v < count; v++) into.push((hash(`${node.id}#${v}`) >>> 0) * SHIFT + index);
}

export const buildRing: PlacementBuilder = ({ nodes, hash, vnodes, previous }: PlacementInput) => {
  checkNodeCount(nodes);
  const fresh: number[] = [];
  let kept: Float64Array = new Float64Array(0);

  const old = previous?.placement;
  if (old instanceof RingPlacement && previous) {
    // Keep the points of members whose id and weight are unchanged; re-hash only the rest.
    const newIndex = new Map(nodes.map((node, i) => [node.id, i]));
    const remap = new Int32Array(previous.nodes.length).fill(-1);
    previous.nodes.forEach((node, i) => {
      const j = newIndex.get(node.id);
      if (j !== undefined && nodes[j]!.weight === node.weight) remap[i] = j;
    });
    const reused = new Set<number>();
    kept = new Float64Array(old.positions.length);
    let k = 0;
    for (let i = 0; i < old.positions.length; i++) {
      const j = remap[old.owners[i]!]!;
      if (j >= 0) kept[k++] = old.positions[i]! * SHIFT + j;
    }
    kept = kept.subarray(0, k);
    for (const j of remap) if (j >= 0) reused.add(j);
    nodes.forEach((node, i) => reused.has(i) || hashPoints(node, i, vnodes, hash, fresh));
  } else {
    nodes.forEach((node, i) => hashPoints(node, i, vnodes, hash, fresh));
  }

  const added = Float64Array.from(fresh).sort();
  // Merge two sorted runs (kept stays sorted: remapping preserves the order of node indexes).
  const total = kept.length + added.length;
  const positions = new Uint32Array(total);
  const owners = new Uint16Array(total);
  for (let i = 0, a = 0, b = 0; i < total; i++) {
    const packed = b >= added.length || (a < kept.length && kept[a]! <= added[b]!) ? kept[a++]! : added[b++]!;
    const position = Math.floor(packed / SHIFT);
    positions[i] = position;
    owners[i] = packed - position * SHIFT;
  }
  const holders = nodes.reduce((count, node) => count + (pointCount(node, vnodes) > 0 ? 1 : 0), 0);
  return new RingPlacement(positions, owners, holders);
};
