import type { HashFunction, OwnershipRange, RingNode } from '../types.js';

/** Receives node indexes in preference order; return true to stop the walk. */
export type WalkVisitor = (index: number) => boolean;

/**
 * How a strategy places keys on nodes, ignoring status: the ring applies health and pins on top.
 * Node indexes refer to the ring's members sorted by id.
 */
export interface Placement {
  /** The node that owns a position by placement, or -1 when no node has any share. */
  first(position: number): number;
  /**
   * Visits the nodes that hold a share, each exactly once, in preference order for a position
   * (`first(position)` comes first). A callback rather than an iterator keeps lookups allocation-light.
   */
  walk(position: number, visit: WalkVisitor): void;
  /** Arcs of positions the node owns by placement (empty for strategies without arcs: see each strategy). */
  ranges(index: number): OwnershipRange[];
  /** How many distinct nodes hold a share (the number of nodes `walk` visits). */
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
