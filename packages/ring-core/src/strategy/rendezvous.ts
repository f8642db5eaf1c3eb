import type { OwnershipRange } from '../types.js';
import { fmix32, murmur3 } from '../hash/murmur3.js';
import { checkNodeCount, type Placement, type PlacementBuilder } from './placement.js';

/**
 * Weighted rendezvous (highest random weight) hashing, logarithmic method (Schindelhauer & Schomaker):
 * node i scores -w_i / ln(u_i) with u_i uniform in (0, 1) from the key's position and the node's seed; the
 * highest score owns the key. Shares are exactly proportional to weight and a change moves only the keys it
 * must; a lookup costs one score per member, so it suits tens of nodes rather than thousands.
 * Ownership is a per-position contest, not arcs of the ring: `ranges()` is empty for this strategy.
 */
class RendezvousPlacement implements Placement {
  readonly byteLength: number;
  readonly holders: number;
  /** The walk of the last position started: members by descending score (one walk at a time, as lookups are synchronous). */
  private readonly order: Uint16Array;
  private readonly scores: Float64Array;
  private ordered = -1;

  constructor(
    /** Indexes of the members with weight > 0, their weights and two seeds each. */
    private readonly members: Uint16Array,
    private readonly weights: Float64Array,
    private readonly seeds: Uint32Array,
  ) {
    this.holders = members.length;
    this.order = new Uint16Array(members.length);
    this.scores = new Float64Array(members.length);
    this.byteLength = members.byteLength + weights.byteLength + seeds.byteLength;
  }

  private score(m: number, position: number): number {
    const u = (fmix32(fmix32(position ^ this.seeds[2 * m]!) ^ this.seeds[2 * m + 1]!) + 0.5) / 2 ** 32;
    return -this.weights[m]! / Math.log(u);
  }

  first(position: number): number {
    let best = -1;
    let bestScore = -1;
    for (let m = 0; m < this.holders; m++) {
      const s = this.score(m, position);
      // Strictly greater: ties go to the lower index (id order), the same on every router.
      if (s > bestScore) {
        bestScore = s;
        best = this.members[m]!;
      }
    }
    return best;
  }

  get steps() {
    return this.holders;
  }

  /** The cursor is the position itself: at() sorts the members for it once, then reads the order. */
  start(position: number): number {
    return position;
  }

  at(cursor: number, step: number): number {
    const { order, scores } = this;
    if (this.ordered !== cursor) {
      for (let m = 0; m < this.holders; m++) {
        scores[m] = this.score(m, cursor);
        order[m] = m;
      }
      order.sort((a, b) => scores[b]! - scores[a]! || a - b);
      this.ordered = cursor;
    }
    return this.members[order[step]!]!;
  }

  ranges(): OwnershipRange[] {
    return [];
  }
}

export const buildRendezvous: PlacementBuilder = ({ nodes }) => {
  checkNodeCount(nodes);
  const indexes = nodes.flatMap((node, i) => (node.weight > 0 ? [i] : []));
  const seeds = new Uint32Array(indexes.length * 2);
  indexes.forEach((i, m) => {
    // Seeds come from the id alone (not the ring's key hash), so scores stay independent across members.
    seeds[2 * m] = murmur3(nodes[i]!.id, 0x48525731);
    seeds[2 * m + 1] = murmur3(nodes[i]!.id, 0x48525732);
  });
  return new RendezvousPlacement(
    Uint16Array.from(indexes),
    Float64Array.from(indexes, (i) => nodes[i]!.weight),
    seeds,
  );
};
