import { fail } from '../errors.js';
import { fullHash } from '../hash/haproxy.js';
import type { OwnershipRange } from '../types.js';
import { integerWeight, memberField } from './edge.js';
import { checkNodeCount, pointAtOrAfter, type Placement, type PlacementBuilder } from './placement.js';

/** HAProxy's BE_WEIGHT_SCALE: points per unit of weight. */
const POINTS_PER_WEIGHT = 16;
/** SRV_EWGHT_RANGE: a server's points hash serverId * 4096 + i. */
const ID_STRIDE = 4096;
/** HAProxy's limit on a server's weight. */
const MAX_WEIGHT = 256;

/**
 * HAProxy's `hash-type consistent` (lb_chash.c): each usable server has weight x 16 points at full_hash(serverId *
 * 4096 + i) (address and name play no part), and a key goes to the server of the closest point, the one before it
 * on a tie. A down server's points leave HAProxy's tree, so its keys go to the closest point of a live server:
 * the walk here yields members in order of their closest point, and the ring's first routable one is that server.
 */
class HaproxyPlacement implements Placement {
  readonly byteLength: number;
  readonly holders: number;
  /** The walk in progress: its position, the points taken so far and the next candidates on each side. */
  private walkPosition = -1;
  private taken = 0;
  private left = 0;
  private right = 0;
  private last = -1;

  constructor(
    private readonly positions: Uint32Array,
    private readonly owners: Uint16Array,
  ) {
    this.holders = new Set(owners).size;
    this.byteLength = positions.byteLength + owners.byteLength;
  }

  get steps() {
    return this.positions.length;
  }

  first(position: number): number {
    const n = this.positions.length;
    if (n === 0) return -1;
    const next = pointAtOrAfter(this.positions, position);
    const prev = next === 0 ? n - 1 : next - 1;
    // Unsigned distances on the circle, as HAProxy computes them; the point before wins a tie.
    const dp = (position - this.positions[prev]!) >>> 0;
    const dn = (this.positions[next]! - position) >>> 0;
    return this.owners[dp <= dn ? prev : next]!;
  }

  start(position: number): number {
    this.restart(position);
    return position;
  }

  private restart(position: number): void {
    const n = this.positions.length;
    this.walkPosition = position;
    this.taken = 0;
    this.right = n === 0 ? 0 : pointAtOrAfter(this.positions, position);
    this.left = this.right === 0 ? n - 1 : this.right - 1;
  }

  /** Steps are taken in order (the ring's walk); a cursor that is not the walk in progress restarts it. */
  at(cursor: number, step: number): number {
    if (cursor !== this.walkPosition || step < this.taken - 1) this.restart(cursor);
    const { positions, owners } = this;
    const n = positions.length;
    while (this.taken <= step) {
      const dp = (cursor - positions[this.left]!) >>> 0;
      const dn = (positions[this.right]! - cursor) >>> 0;
      if (dp <= dn) {
        this.last = owners[this.left]!;
        this.left = this.left === 0 ? n - 1 : this.left - 1;
      } else {
        this.last = owners[this.right]!;
        this.right = this.right === n - 1 ? 0 : this.right + 1;
      }
      this.taken++;
    }
    return this.last;
  }

  /** Each point owns the positions closer to it than to its neighbours (ties to the earlier point). */
  ranges(index: number): OwnershipRange[] {
    const { positions, owners } = this;
    const n = positions.length;
    const out: OwnershipRange[] = [];
    for (let i = 0; i < n; i++) {
      if (owners[i] !== index) continue;
      const prev = positions[i === 0 ? n - 1 : i - 1]!;
      const here = positions[i]!;
      const next = positions[i === n - 1 ? 0 : i + 1]!;
      const start = n === 1 ? (here + 1) >>> 0 : (prev + Math.floor(((here - prev) >>> 0) / 2) + 1) >>> 0;
      const end = n === 1 ? here : (here + Math.floor(((next - here) >>> 0) / 2)) >>> 0;
      const last = out[out.length - 1];
      if (last && i > 0 && owners[i - 1] === index) last.end = end;
      else out.push({ start, end });
    }
    return out;
  }
}

export const buildHaproxy: PlacementBuilder = ({ nodes }) => {
  checkNodeCount(nodes);
  const ids = new Map<number, string>();
  const packed: number[] = [];
  nodes.forEach((node, index) => {
    const weight = integerWeight(node, 'haproxy', MAX_WEIGHT);
    const id = node.serverId;
    if (id === undefined) fail(memberField(node, 'serverId'), "strategy 'haproxy' needs a numeric serverId on every node");
    const other = ids.get(id);
    if (other !== undefined) fail(memberField(node, 'serverId'), `${id} is already the serverId of node ${JSON.stringify(other)}`);
    ids.set(id, node.id);
    for (let i = 0; i < weight * POINTS_PER_WEIGHT; i++) packed.push(fullHash(id * ID_STRIDE + i) * 65536 + index);
  });
  const sorted = Float64Array.from(packed).sort();
  const positions = new Uint32Array(sorted.length);
  const owners = new Uint16Array(sorted.length);
  sorted.forEach((value, i) => {
    positions[i] = Math.floor(value / 65536);
    owners[i] = value - positions[i]! * 65536;
  });
  return new HaproxyPlacement(positions, owners);
};
