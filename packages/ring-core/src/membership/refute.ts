import type { NodeSpec, Ring } from '../types.js';
import type { ClusterView } from './apply.js';
import type { ClusterChange } from './backend.js';

/**
 * SWIM-style self-healing, decided here and committed by the engine. A member announces an incarnation when it
 * joins and a higher one whenever it refutes, so its own word beats any older accusation; only an operator's
 * drain of its current incarnation keeps it out.
 */

/** A fresh incarnation above `previous`: the wall clock, so a restarted instance also outranks its predecessor. */
const next = (previous: number) => Math.max(Date.now(), previous + 1);

/** What a starting member commits to join (undefined: the snapshot already has it, as configured). */
export function joinChange(ring: Ring, view: ClusterView, self: NodeSpec): ClusterChange | undefined {
  const existing = ring.node(self.id);
  const known = view.incarnations.get(self.id);
  const incarnations = { [self.id]: next(known ?? 0) };
  if (!existing) return { add: [self], join: [self.id], incarnations };
  // A restart under the same id: take the node over with the configured spec.
  const member = view.members.has(self.id) && known !== undefined && !view.drained.has(self.id);
  const same = existing.url === self.url && existing.weight === self.weight && existing.status === self.status;
  if (same && member) return undefined;
  return { update: [self], join: member ? undefined : [self.id], incarnations };
}

/**
 * What a running member commits to refute a removal or suspicion it did not ask for (undefined: nothing to refute).
 * `heartbeats`: whether members are failure-detected (then a member must also be listed as sending heartbeats).
 */
export function refuteChange(
  ring: Ring,
  view: ClusterView,
  self: NodeSpec,
  incarnation: number,
  heartbeats: boolean,
): ClusterChange | undefined {
  const node = ring.node(self.id);
  const incarnations = { [self.id]: next(incarnation) };
  if (!node) return { add: [self], join: [self.id], incarnations };
  // Suspicion is the detector's; a status an operator set (dead, updating...) stands.
  if (node.status === 'suspected') return { update: [{ id: self.id, status: self.status }], incarnations };
  if (heartbeats && !view.members.has(self.id)) return { join: [self.id], incarnations };
  return undefined;
}

/** Whether an operator drained this instance (a drain of an older incarnation concerned an earlier instance). */
export function isDrained(view: ClusterView, self: NodeSpec | undefined, incarnation: number): boolean {
  const drained = self ? view.drained.get(self.id) : undefined;
  return drained !== undefined && drained >= incarnation;
}
