import type { Ring } from '../types.js';

/** Key sample for per-node shares: fixed, so every node reports comparable numbers. */
const SHARE_SAMPLE = 4096;

/** Each member's share of a fixed key sample (callers cache it per ring snapshot: rings are immutable). */
export function sharesOf(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < SHARE_SAMPLE; i++) {
    const owner = ring.owner(`ringroute-sample-${i}`);
    if (owner) counts.set(owner.id, counts.get(owner.id)! + 1);
  }
  for (const [id, n] of counts) counts.set(id, n / SHARE_SAMPLE);
  return counts;
}
