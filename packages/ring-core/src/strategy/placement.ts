import type { HashFunction, OwnershipRange, RingNode } from '../types.js';

/**
 * How a strategy places keys on nodes, ignoring status: the ring applies health and pins on top.
 * Node indexes refer to the ring's members sorted by id.
 */
export interface Placement {
  /** The node that owns a position by placement, or -1 when no node has any share. */
  first(position: number): number;
  /** Node indexes in preference order for a position; may repeat (the ring deduplicates). */
  walk(position: number): Iterable<number>;
  /** Arcs of positions the node owns by placement. */
  ranges(index: number): OwnershipRange[];
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
