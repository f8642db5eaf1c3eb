import { toSpec } from '../ring/nodes.js';
import type { NodeStatus, Ring, RingNode } from '../types.js';
import type { ClusterChange, ClusterState } from './backend.js';

/**
 * What the snapshot holds beside the ring: who sends heartbeats, each member's incarnation, and who was drained.
 * Changes apply to it exactly as they apply to the ring, so a proposal can build the next snapshot from both.
 */
export class ClusterView {
  constructor(
    readonly members = new Set<string>(),
    readonly incarnations = new Map<string, number>(),
    readonly drained = new Map<string, number>(),
    /** The snapshot's generation (0 for a snapshot written before generations existed). */
    readonly generation = 0,
  ) {}

  static of(state: ClusterState): ClusterView {
    return new ClusterView(
      new Set(state.members),
      new Map(Object.entries(state.incarnations ?? {})),
      new Map(Object.entries(state.drained ?? {})),
      state.generation ?? 0,
    );
  }

  clone(): ClusterView {
    return new ClusterView(new Set(this.members), new Map(this.incarnations), new Map(this.drained), this.generation);
  }

  /** Applies the non-ring part of `change` in place. */
  apply(change: ClusterChange): this {
    for (const id of change.remove ?? []) {
      this.members.delete(id);
      this.incarnations.delete(id);
    }
    for (const [id, incarnation] of Object.entries(change.drain ?? {})) this.drained.set(id, incarnation);
    // A node added again (by itself or an operator) is no longer drained.
    for (const node of change.add ?? []) this.drained.delete(node.id);
    for (const id of change.join ?? []) {
      this.members.add(id);
      this.drained.delete(id);
    }
    for (const [id, incarnation] of Object.entries(change.incarnations ?? {})) this.incarnations.set(id, incarnation);
    return this;
  }

  /** The snapshot of `ring` with this view at `seq`. */
  state(ring: Ring | undefined, seq: number): ClusterState {
    return {
      seq,
      nodes: ring ? ring.nodes.map(toSpec) : [],
      pins: ring ? { ...ring.pins } : {},
      members: [...this.members].sort(),
      incarnations: Object.fromEntries(this.incarnations),
      drained: Object.fromEntries(this.drained),
      ...(this.generation > 0 ? { generation: this.generation } : {}),
    };
  }
}

/** The node-level difference between two snapshots, in the order the events are emitted. */
export interface RingDiff {
  joined: RingNode[];
  status: [node: RingNode, from: NodeStatus, to: NodeStatus][];
  left: RingNode[];
}

export function diffRings(previous: Ring | undefined, next: Ring): RingDiff {
  const diff: RingDiff = { joined: [], status: [], left: [] };
  if (!previous) {
    diff.joined = [...next.nodes];
    return diff;
  }
  for (const node of next.nodes) {
    const before = previous.node(node.id);
    if (!before) diff.joined.push(node);
    else if (before.status !== node.status) diff.status.push([node, before.status, node.status]);
  }
  for (const node of previous.nodes) if (!next.node(node.id)) diff.left.push(node);
  return diff;
}
