import type { HashFunction, OwnershipRange, RingNode } from '../types.js';

/**
 * How a strategy places keys on nodes, ignoring status: the ring applies health and pins on top.
 * Node indexes refer to the ring's members sorted by id.
 */
export interface Placement {
  /** The node that owns a position by placement, or -1 when no node has any share. */
  first(position: number): number;
  /**
   * Starts a walk: the nodes in preference order for a position are `at(cursor, 0)` (= `first(position)`),
   * `at(cursor, 1)`, ... up to step `steps - 1`; nodes may repeat (the ring deduplicates) and every holder
   * appears. A cursor instead of an iterator or callback keeps lookups free of allocations and closures.
   */
  start(position: number): number;
  at(cursor: number, step: number): number;
  /** Steps in a full walk. */
  readonly steps: number;
  /** Arcs of positions the node owns by placement (empty for strategies without arcs: see each strategy). */
  ranges(index: number): OwnershipRange[];
  /** How many distinct nodes hold a share (a walk has seen them all once it has met this many). */
  readonly holders: number;
  /** Bytes held by the lookup structure (benchmarks report memory per virtual node). */
  readonly byteLength: number;
}

export interface PlacementInput {
  nodes: readonly RingNode[];
  hash: HashFunction;
  vnodes: number;
  /** The placement of the previous snapshot and its members, so a change re-hashes only what changed. */
  previous?: { placement: Placement; nodes: readonly RingNode[] };
}

export type PlacementBuilder = (input: PlacementInput) => Placement;

/** Node indexes are stored in Uint16Arrays; 0xffff marks an empty slot. */
export const MAX_NODES = 0xffff;

export function checkNodeCount(nodes: readonly RingNode[]): void {
  if (nodes.length > MAX_NODES) throw new RangeError(`nodes: at most ${MAX_NODES} members per ring`);
}

/** Index of the first of the sorted `positions[lo..hi)` that is >= position, wrapping to 0 past the last point. */
export function pointAtOrAfter(positions: Uint32Array, position: number, lo = 0, hi = positions.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid]! < position) lo = mid + 1;
    else hi = mid;
  }
  return lo === positions.length ? 0 : lo;
}
