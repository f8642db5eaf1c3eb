import type { Membership, Ring } from '@ringroute/ring-core';
import { createMembership } from '../cluster/index.js';
import { CHANGES, CHANGES_MERGED } from '../handover/fence.js';
import { HANDED_OVER_ALL, HANDED_OVER_RING, onHandoverMessage } from '../handover/protocol.js';
import type { Host, Parts } from './parts.js';

/**
 * Joins the cluster (start() keeps trying while the store is away): the parts hear the membership's rings, messages and departures from its start on, and act on
 * its ring once `joined` has recorded it.
 */
export async function joinCluster(
  parts: Parts,
  host: Host,
  joined: (membership: Membership) => void,
  created: (membership: Membership) => void,
): Promise<Membership> {
  const membership = await createMembership(host.config);
  created(membership); // its `waiting` says why the node is not ready while start() waits for the store
  listen(membership, parts, host);
  await membership.start();
  joined(membership);
  onRing(parts, host, membership.ring, true);
  parts.fence.start();
  host.debug(`joined: epoch ${membership.ring.epoch}, ${membership.ring.nodes.length} node(s)`);
  return membership;
}

/** Broadcasts a cluster message; when Redis is down, nodes waiting for it fall back to migrationTimeout. */
export async function broadcast(
  membership: Membership | undefined,
  type: string,
  data: unknown,
  debug: (message: string) => void,
): Promise<void> {
  try {
    await membership?.broadcast(type, data);
  } catch (error) {
    debug(`broadcast ${type} failed: ${String(error)}`);
  }
}

/** Feeds the membership's rings, messages and departures to the parts. */
function listen(membership: Membership, parts: Parts, host: Host): void {
  membership.on('ring', (ring) => onRing(parts, host, ring));
  membership.on('message', (message) => {
    if (message.type === CHANGES || message.type === CHANGES_MERGED) parts.fence.onMessage(message);
    else onHandoverMessage(message, parts.protocol);
  });
  membership.on('left', (node, reason) => {
    // Removed while it did not leave: this node was declared dead, and what it holds is stale.
    // (An operator's removal is 'removed': that node is alive and hands its documents over as usual.)
    if (node.id === host.config.nodeId)
      return void ((reason === 'failed' || reason === 'resync') && !host.leaving() && parts.fence.lostLease());
    // A node declared dead (its lease ran out) or gone gracefully holds nothing a new owner must wait for.
    if (reason === 'failed' || reason === 'graceful') parts.ledger.handedOverEverything(node.id);
  });
}

/** A graceful leave: mark this node leaving, hand everything over, announce it, then stop the membership. */
export async function leaveCluster(membership: Membership, { sender, fence }: Parts, { config, broadcast, debug }: Host): Promise<void> {
  try {
    if (config.enforceRouting && membership.ring.node(config.nodeId)) await membership.update(config.nodeId, { status: 'leaving' });
    if (config.enforceRouting) await sender.handOverEverything();
    await broadcast(HANDED_OVER_ALL, {});
  } finally {
    fence.stop();
    await membership.stop();
    debug('left the cluster');
  }
}

/**
 * A new ring: remember it for handovers, and hand over every held document this node no longer owns. `joining`:
 * this node's first ring, when it asks the others to announce theirs (it could not hear them while it started).
 */
export function onRing(parts: Parts, host: Host, ring: Ring, joining = false): void {
  const { ledger, relay, admission, sender, fence } = parts;
  const { config, membership } = host;
  ledger.observe(ring);
  relay.ringChanged(ring);
  admission.prune();
  if (!config.enforceRouting || !membership()) return;
  for (const documentName of sender.held()) {
    const owner = ring.owner(documentName);
    if (owner && owner.id !== config.nodeId && !fence.isStale(documentName)) void sender.handOver(documentName);
  }
  announceRing(parts, host, ring, joining);
}

/**
 * Holding none of the documents the ring gives to other nodes (a freshly formed cluster), this node says so once for
 * the whole ring: their new owners load them without asking it per document.
 */
export function announceRing({ sender }: Parts, { config, broadcast }: Host, ring: Ring, ask = false): void {
  const { pending, moving } = sender.progress();
  const holdsOthers = [...sender.held()].some((documentName) => ring.owner(documentName)?.id !== config.nodeId);
  if (!holdsOthers && pending + moving === 0) void broadcast(HANDED_OVER_RING, { epoch: ring.epoch, checksum: ring.checksum, ask });
}
