import type { OwnershipRange, RingNode } from '../types.js';
import { checkNodeCount, pointAtOrAfter, type Placement, type PlacementBuilder, type PlacementInput } from './placement.js';

/**
 * Positions per node: vnodes scaled by weight. Weight 0 = no points (the node owns nothing); any
 * positive weight gets at least one point so a small but live node still owns something.
 */
export const pointCount = (node: RingNode, vnodes: number) => (node.weight > 0 ? Math.max(1, Math.round(vnodes * node.weight)) : 0);

/**
 * Classic consistent hashing with virtual nodes: sorted positions in a Uint32Array, their owners in a
 * Uint16Array (6 bytes per virtual node), a lookup to the first position >= the key's, wrapping.
 * Ties on a position break by node index, which follows id order, so every router agrees.
 * A bucket index over the top bits of a position (n/4 to n/2 buckets, at most 2 bytes per point) narrows
 * the search to a few points, so a lookup is a couple of reads instead of a dozen binary-search branches.
 */
export class RingPlacement implements Placement {
  private readonly shift: number;
  /** buckets[b] = the first point at or after the start of bucket b; buckets[length - 1] = the point count. */
  private readonly buckets: Uint16Array | Uint32Array;

  constructor(
    readonly positions: Uint32Array,
    readonly owners: Uint16Array,
    readonly holders: number,
  ) {
    const n = positions.length;
    const bits = n < 8 ? 0 : Math.min(24, Math.floor(Math.log2(n)) - 1);
    const count = 2 ** bits;
    const width = 2 ** (32 - bits);
    const buckets = n <= 0xffff ? new Uint16Array(count + 1) : new Uint32Array(count + 1);
    for (let b = 0, i = 0; b <= count; b++) {
      const start = b * width;
      while (i < n && positions[i]! < start) i++;
      buckets[b] = i;
    }
    this.shift = 32 - bits;
    this.buckets = buckets;
  }

  get steps() {
    return this.owners.length;
  }

  get byteLength() {
    return this.positions.byteLength + this.owners.byteLength + this.buckets.byteLength;
  }

  private indexOf(position: number): number {
    const { positions } = this;
    // Without bucket bits, shift is 32 and `>>> 32` is `>>> 0`: use bucket 0 then.
    const b = this.shift === 32 ? 0 : position >>> this.shift;
    return pointAtOrAfter(positions, position, this.buckets[b]!, this.buckets[b + 1]!);
  }

  first(position: number): number {
    return this.positions.length === 0 ? -1 : this.owners[this.indexOf(position)]!;
  }

  start(position: number): number {
    return this.indexOf(position);
  }

  at(cursor: number, step: number): number {
    // cursor and step are both below the length: one subtraction wraps, cheaper than a modulo.
    const { owners } = this;
    const at = cursor + step;
    return owners[at < owners.length ? at : at - owners.length]!;
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
  const old = previous?.placement instanceof RingPlacement ? previous.placement : undefined;
  // remap[old index] = new index of a member whose id and weight are unchanged (its points are kept), else -1.
  const remap = new Int32Array(old ? previous!.nodes.length : 0).fill(-1);
  const reused = new Uint8Array(nodes.length);
  let keptCount = 0;
  if (old) {
    const newIndex = new Map(nodes.map((node, i) => [node.id, i]));
    previous!.nodes.forEach((node, i) => {
      const j = newIndex.get(node.id);
      if (j === undefined || nodes[j]!.weight !== node.weight) return;
      remap[i] = j;
      reused[j] = 1;
      keptCount += pointCount(node, vnodes);
    });
  }
  const fresh: number[] = [];
  nodes.forEach((node, i) => reused[i] === 1 || hashPoints(node, i, vnodes, hash, fresh));
  const added = Float64Array.from(fresh).sort();

  // The kept points, owners renumbered (still sorted: remapping preserves the order of node indexes), in one pass.
  const oldPositions = old?.positions ?? new Uint32Array(0);
  const oldOwners = old?.owners ?? new Uint16Array(0);
  const keptPositions = new Uint32Array(keptCount);
  const keptOwners = new Uint16Array(keptCount);
  for (let a = 0, k = 0; a < oldPositions.length; a++) {
    const owner = remap[oldOwners[a]!]!;
    if (owner < 0) continue;
    keptPositions[k] = oldPositions[a]!;
    keptOwners[k++] = owner;
  }
  // Merge the few new points in: block copies of the kept runs between them, each found by binary search.
  const total = keptCount + added.length;
  const positions = new Uint32Array(total);
  const owners = new Uint16Array(total);
  let out = 0;
  let from = 0;
  for (const packed of added) {
    const position = Math.floor(packed / SHIFT);
    const owner = packed - position * SHIFT;
    let lo = from;
    let hi = keptCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = keptPositions[mid]!;
      if (p < position || (p === position && keptOwners[mid]! < owner)) lo = mid + 1;
      else hi = mid;
    }
    positions.set(keptPositions.subarray(from, lo), out);
    owners.set(keptOwners.subarray(from, lo), out);
    out += lo - from;
    from = lo;
    positions[out] = position;
    owners[out++] = owner;
  }
  positions.set(keptPositions.subarray(from), out);
  owners.set(keptOwners.subarray(from), out);
  const holders = nodes.reduce((count, node) => count + (pointCount(node, vnodes) > 0 ? 1 : 0), 0);
  return new RingPlacement(positions, owners, holders);
};
