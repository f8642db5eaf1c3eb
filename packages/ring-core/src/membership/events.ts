import type { Ring } from '../types.js';
import type { MembershipEmitter } from './emitter.js';
import type { LeaveReason } from './types.js';

/** Emits 'ring' and then one 'joined' / 'left' / 'status' per node that differs between the two snapshots. */
export function emitRingEvents(events: MembershipEmitter, next: Ring, previous: Ring | undefined, reason: LeaveReason): void {
  events.emit('ring', next, previous);
  if (!previous) {
    for (const node of next.nodes) events.emit('joined', node);
    return;
  }
  for (const node of next.nodes) {
    const before = previous.node(node.id);
    if (!before) events.emit('joined', node);
    else if (before.status !== node.status) events.emit('status', node, before.status, node.status);
  }
  for (const node of previous.nodes) if (!next.node(node.id)) events.emit('left', node, reason);
}
