import type { OwnershipRange } from '../types.js';
import { checkNodeCount, MAX_NODES, type Placement, type PlacementBuilder } from './placement.js';

/** Lookup-table size: a prime (so every skip walks a full permutation) well above 100x a typical member count. */
export const MAGLEV_TABLE_SIZE = 65537;

const EMPTY = MAX_NODES;
const TWO_32 = 2 ** 32;

/** The table slot of a ring position: positions are scaled onto the table, so each slot is one contiguous arc. */
const slotOf = (position: number) => Math.floor((position * MAGLEV_TABLE_SIZE) / TWO_32);

/** The first position of a slot: ceil(slot * 2^32 / M), computed exactly in integers (< 2^53). */
function slotStart(slot: number): number {
  const scaled = slot * TWO_32;
  const q = Math.floor(scaled / MAGLEV_TABLE_SIZE);
  return q * MAGLEV_TABLE_SIZE < scaled ? q + 1 : q;
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016): each node walks its own permutation of a prime-sized table
 * and claims free slots in turn, in proportion to its weight. Near-perfect balance and O(1) lookups, at the
 * price of a full table rebuild on every membership change and somewhat more key movement than a ring.
 * The fallback walk follows the table slots clockwise, as a ring walk follows its points.
 */
class MaglevPlacement implements Placement {
  constructor(
    readonly table: Uint16Array,
    readonly holders: number,
  ) {}

  get steps() {
    return this.table.length;
  }

  get byteLength() {
    return this.table.byteLength;
  }

  first(position: number): number {
    return this.holders === 0 ? -1 : this.table[slotOf(position)]!;
  }

  start(position: number): number {
    return slotOf(position);
  }

  at(cursor: number, step: number): number {
    const at = cursor + step; // both below the table size: one subtraction wraps
    return this.table[at < MAGLEV_TABLE_SIZE ? at : at - MAGLEV_TABLE_SIZE]!;
  }

  /** The arcs of the node's table slots, adjacent slots merged; each arc has start <= end. */
  ranges(index: number): OwnershipRange[] {
    const out: OwnershipRange[] = [];
    if (this.holders === 0) return out;
    for (let slot = 0; slot < MAGLEV_TABLE_SIZE; slot++) {
      if (this.table[slot] !== index) continue;
      const end = (slot + 1 === MAGLEV_TABLE_SIZE ? TWO_32 : slotStart(slot + 1)) - 1;
      const last = out[out.length - 1];
      if (last && slot > 0 && this.table[slot - 1] === index) last.end = end;
      else out.push({ start: slotStart(slot), end });
    }
    return out;
  }
}

export const buildMaglev: PlacementBuilder = ({ nodes, hash }) => {
  checkNodeCount(nodes);
  const M = MAGLEV_TABLE_SIZE;
  const table = new Uint16Array(M).fill(EMPTY);
  const members = nodes.flatMap((node, index) => (node.weight > 0 ? [{ index, weight: node.weight }] : []));
  if (members.length === 0) return new MaglevPlacement(new Uint16Array(0), 0);

  // Each member's permutation of the table: offset + j * skip (mod M), from two hashes of its id.
  const offset = members.map(({ index }) => (hash(`${nodes[index]!.id}#maglev-offset`) >>> 0) % M);
  const skip = Uint32Array.from(members, ({ index }) => ((hash(`${nodes[index]!.id}#maglev-skip`) >>> 0) % (M - 1)) + 1);
  // offset + (j + 1) * skip from offset + j * skip, without a multiply or a modulo (both terms are below M).
  const advance = (slot: number, m: number) => (slot + skip[m]! < M ? slot + skip[m]! : slot + skip[m]! - M);
  // Where each member's permutation stands: the next slot it tries is `at`, then at + skip (mod M), ...
  const at = Uint32Array.from(offset);
  // Weighted turns: a member earns weight/maxWeight of a slot per round and claims one per whole unit earned.
  const maxWeight = members.reduce((max, m) => Math.max(max, m.weight), 0);
  const credit = new Float64Array(members.length);
  const claimed = new Uint32Array(members.length);
  let filled = 0;
  while (filled < M) {
    for (let m = 0; m < members.length && filled < M; m++) {
      credit[m]! += members[m]!.weight / maxWeight;
      while (credit[m]! >= 1 && filled < M) {
        credit[m]! -= 1;
        let slot = at[m]!;
        while (table[slot] !== EMPTY) slot = advance(slot, m);
        table[slot] = members[m]!.index;
        at[m] = advance(slot, m);
        claimed[m]!++;
        filled++;
      }
    }
  }
  const holders = claimed.reduce((count, c) => count + (c > 0 ? 1 : 0), 0);
  return new MaglevPlacement(table, holders);
};
