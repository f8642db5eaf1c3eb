import { checkNumber, checkOneOf, fail } from '../errors.js';
import { isRoutable } from '../ring/nodes.js';
import type { Ring, RingNode } from '../types.js';
import { LoadTracker } from './load.js';

export { LoadTracker };

/**
 * How a selector makes its first pick (seed 002): `consistent` = the key's owner on the ring (sticky);
 * `round-robin` = the next routable node in turn; `random` = uniform; `weighted` = random in proportion to weight.
 * After the first pick every strategy falls back through the remaining routable nodes.
 */
export type SelectionStrategy = 'consistent' | 'round-robin' | 'random' | 'weighted';

export const SELECTION_STRATEGIES: readonly SelectionStrategy[] = ['consistent', 'round-robin', 'random', 'weighted'];

export interface SelectorOptions {
  /** Default 'consistent'. */
  strategy?: SelectionStrategy;
  /**
   * Bounded load (Mirrokni, Thorup, Zadimoghaddam 2018): no node takes a request that would put it above
   * ceil(c x its weighted share of the in-flight load); such nodes move to the end of the candidates, so
   * the pick overflows to the next candidate. Must be > 1 (1.25 is a common choice). Default: unbounded.
   */
  loadFactor?: number;
  /** Source of randomness in [0, 1) for `random` and `weighted` (default Math.random). */
  random?: () => number;
}

/** A picked node that counts as one in-flight request until released. */
export interface Lease {
  readonly node: RingNode;
  /** Ends the request; calling it again does nothing. */
  release(): void;
}

export interface Selector {
  readonly strategy: SelectionStrategy;
  /** In-flight requests per node, fed by acquire() and lease.release(). */
  readonly load: LoadTracker;
  /**
   * Routable nodes in the order to try them: the first pick, then the fallback. With `loadFactor`, nodes
   * with room come first (in that order), then the full ones. `key` is required by `consistent` only.
   */
  candidates(key?: string): IterableIterator<RingNode>;
  /** The first candidate, or undefined when no node is routable. */
  pick(key?: string): RingNode | undefined;
  /** Picks a node and counts a request in flight on it; undefined when no node is routable. */
  acquire(key?: string): Lease | undefined;
}

/** Routable nodes of one ring snapshot, with cumulative weights for weighted picks. */
interface Pool {
  ring: Ring;
  nodes: RingNode[];
  cumulative: Float64Array;
  weight: number;
}

function poolOf(ring: Ring): Pool {
  const nodes = ring.nodes.filter(isRoutable);
  const cumulative = new Float64Array(nodes.length);
  let weight = 0;
  nodes.forEach((node, i) => (cumulative[i] = weight += node.weight));
  return { ring, nodes, cumulative, weight };
}

/**
 * Creates a selector over a ring, or over a function returning the current ring (so it follows membership
 * changes). Load is tracked by node id, so it survives ring snapshots.
 */
export function createSelector(source: Ring | (() => Ring), options: SelectorOptions = {}): Selector {
  const strategy = options.strategy === undefined ? 'consistent' : checkOneOf('strategy', options.strategy, SELECTION_STRATEGIES);
  const loadFactor = options.loadFactor === undefined ? undefined : checkNumber('loadFactor', options.loadFactor, { min: 1, max: 1e6 });
  if (loadFactor === 1) fail('loadFactor', 'must be greater than 1 (1 leaves no room to absorb imbalance)');
  if (options.random !== undefined && typeof options.random !== 'function') fail('random', 'must be a function');
  const random = options.random ?? Math.random;
  const currentRing = typeof source === 'function' ? source : () => source;
  const load = new LoadTracker();
  let turn = 0;
  let pool: Pool | undefined;

  const currentPool = () => {
    const ring = currentRing();
    if (pool?.ring !== ring) pool = poolOf(ring);
    return pool;
  };

  /** Index of the first pick in pool.nodes (non-sticky strategies). */
  function firstIndex({ nodes, cumulative, weight }: Pool): number {
    if (strategy === 'round-robin') return turn++ % nodes.length;
    if (strategy === 'random') return Math.floor(random() * nodes.length);
    const target = random() * weight;
    let lo = 0;
    let hi = nodes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! <= target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function order(key: string | undefined): RingNode[] {
    const current = currentPool();
    if (strategy === 'consistent') {
      if (typeof key !== 'string') fail('key', 'the consistent strategy needs a key');
      return current.ring.owners(key, current.nodes.length);
    }
    const { nodes } = current;
    if (nodes.length === 0) return [];
    // Uniform fallback: the other routable nodes in turn after the first pick.
    const first = firstIndex(current);
    return nodes.map((_, i) => nodes[(first + i) % nodes.length]!);
  }

  function* candidates(key?: string): IterableIterator<RingNode> {
    const nodes = order(key);
    if (loadFactor === undefined) return yield* nodes;
    // Capacity counts the request being placed: the sum of capacities exceeds the load, so some node has room.
    const { weight } = currentPool();
    const share = (loadFactor * (load.total + 1)) / weight;
    const full: RingNode[] = [];
    for (const node of nodes) {
      if (load.get(node.id) + 1 <= Math.ceil(share * node.weight)) yield node;
      else full.push(node);
    }
    yield* full;
  }

  return {
    strategy,
    load,
    candidates,
    pick: (key) => candidates(key).next().value,
    acquire(key) {
      const node = candidates(key).next().value;
      if (!node) return undefined;
      load.acquire(node.id);
      let released = false;
      return {
        node,
        release() {
          if (released) return;
          released = true;
          load.release(node.id);
        },
      };
    },
  };
}
