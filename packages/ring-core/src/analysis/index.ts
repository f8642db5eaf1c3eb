import { isRoutable } from '../ring/nodes.js';
import type { Ring } from '../types.js';

export interface NodeLoad {
  id: string;
  /** Keys of the sample this node owns. */
  count: number;
  /** count / keys owned in total. */
  share: number;
  /** The node's fair share by weight among routable nodes. */
  expectedShare: number;
  /** share / expectedShare: 1 is perfect balance, 1.2 is 20% above its fair share. */
  load: number;
}

export interface Distribution {
  /** Keys in the sample. */
  keys: number;
  /** Keys with no owner (nothing routable). */
  unowned: number;
  /** Routable nodes, by id. */
  nodes: NodeLoad[];
  /** Highest per-node load (for equal weights: max / avg). */
  maxLoad: number;
  minLoad: number;
  /** Population standard deviation of the per-node loads (for equal weights: std dev / mean of the counts). */
  stdDev: number;
}

/** How evenly a ring spreads a sample of keys over its routable nodes, relative to their weights. */
export function analyzeDistribution(ring: Ring, keys: Iterable<string>): Distribution {
  const routable = ring.nodes.filter(isRoutable);
  const slot = new Map(routable.map((node, i) => [node.id, i]));
  const counts = new Float64Array(routable.length);
  let total = 0;
  let unowned = 0;
  for (const key of keys) {
    total++;
    const owner = ring.owner(key);
    if (owner) counts[slot.get(owner.id)!]!++;
    else unowned++;
  }
  const owned = total - unowned;
  const weight = routable.reduce((sum, node) => sum + node.weight, 0);
  const nodes = routable.map((node, i): NodeLoad => {
    const share = owned === 0 ? 0 : counts[i]! / owned;
    const expectedShare = node.weight / weight;
    return { id: node.id, count: counts[i]!, share, expectedShare, load: share / expectedShare };
  });
  const loads = nodes.map((n) => n.load);
  const mean = loads.reduce((sum, l) => sum + l, 0) / (loads.length || 1);
  const variance = loads.reduce((sum, l) => sum + (l - mean) ** 2, 0) / (loads.length || 1);
  return {
    keys: total,
    unowned,
    nodes,
    maxLoad: loads.length ? Math.max(...loads) : 0,
    minLoad: loads.length ? Math.min(...loads) : 0,
    stdDev: Math.sqrt(variance),
  };
}

export interface Movement {
  keys: number;
  /** Keys whose owner differs between the two rings (gaining or losing an owner counts). */
  moved: number;
  /** moved / keys. */
  fraction: number;
  /** Moved keys by their previous owner id, and by their new owner id. */
  from: Record<string, number>;
  to: Record<string, number>;
}

/** Which keys of a sample change owner between two rings (e.g. before and after a membership change). */
export function measureMovement(before: Ring, after: Ring, keys: Iterable<string>): Movement {
  const from: Record<string, number> = {};
  const to: Record<string, number> = {};
  let total = 0;
  let moved = 0;
  for (const key of keys) {
    total++;
    const a = before.owner(key)?.id;
    const b = after.owner(key)?.id;
    if (a === b) continue;
    moved++;
    if (a !== undefined) from[a] = (from[a] ?? 0) + 1;
    if (b !== undefined) to[b] = (to[b] ?? 0) + 1;
  }
  return { keys: total, moved, fraction: total === 0 ? 0 : moved / total, from, to };
}
