import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Membership, Ring } from '@ringroute/ring-core';
import { Admission } from '../admission/index.js';
import { CHANGES, CHANGES_MERGED, Fence } from '../handover/fence.js';
import { HandoverLedger } from '../handover/ledger.js';
import { HANDED_OVER, HANDED_OVER_ALL, HANDOVER_REQUEST, onHandoverMessage, type ProtocolContext } from '../handover/protocol.js';
import { HandoverSender } from '../handover/sender.js';
import { isHeld, type DocumentLike, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ResolvedOptions } from '../options/index.js';
import { Relay, RELAY_PATH } from '../relay/index.js';
import type { SmartRouteCounters } from './counters.js';
import { DocumentRefusal, FencedStore } from './refusal.js';

/** What the parts of a SmartRoute reach through it. */
export interface Host {
  readonly config: ResolvedOptions;
  readonly counters: SmartRouteCounters;
  ring(): Ring | undefined;
  instance(): HocuspocusLike | undefined;
  membership(): Membership | undefined;
  /** Whether nodes can announce handovers to each other (not with a static membership). */
  coordinated(): boolean;
  /** Whether this node is leaving the cluster on purpose. */
  leaving(): boolean;
  broadcast(type: string, data: unknown): Promise<void>;
  debug(message: string): void;
}

export interface Parts {
  relay: Relay;
  ledger: HandoverLedger;
  admission: Admission;
  sender: HandoverSender;
  fence: Fence;
  protocol: ProtocolContext;
}

/** Builds a SmartRoute's parts: the per-document decision, both sides of a handover, and the fence. */
export function createParts(host: Host): Parts {
  const { config, counters } = host;
  const log = config.logger;
  const debug = (message: string) => host.debug(message);
  const ledger = new HandoverLedger(config.nodeId, config.migrationTimeout);
  const admission: Admission = new Admission({
    config,
    counters,
    ledger,
    ring: () => host.ring(),
    instance: () => host.instance(),
    coordinated: () => host.coordinated(),
    handingOver: (documentName) => sender.isMoving(documentName),
    requestHandover: (documentName, nodeId) => void host.broadcast(HANDOVER_REQUEST, { documentName, nodeId }),
    debug,
  });
  const refusalReason = (documentName: string) => admission.refusalReason(documentName, 0);
  const sender: HandoverSender = new HandoverSender({
    config,
    counters,
    log,
    debug,
    instance: () => host.instance(),
    keeps: (documentName) => admission.ownsHere(documentName) || fence.isStale(documentName),
    refusalReason,
    announce: (documentName) => host.broadcast(HANDED_OVER, { documentName }),
  });
  const fence: Fence = new Fence({
    config,
    counters,
    log,
    debug,
    instance: () => host.instance(),
    membership: () => host.membership(),
    owner: (documentName) => host.ring()?.owner(documentName)?.id,
    refusalReason,
    broadcast: (type, data) => host.broadcast(type, data),
  });
  const protocol: ProtocolContext = {
    nodeId: config.nodeId,
    ledger,
    sender,
    ownsHere: (documentName) => admission.ownsHere(documentName) && host.ring()?.owner(documentName) !== undefined,
    holds: (documentName) => {
      const instance = host.instance();
      return instance !== undefined && isHeld(instance, documentName);
    },
    broadcast: (type, data) => host.broadcast(type, data),
  };
  const relay = new Relay({
    nodeId: config.nodeId,
    secret: config.secret,
    // A crashed owner is declared dead after 2 x failureTimeout; its successor may wait migrationTimeout for a handover.
    giveUpAfter: 2 * config.failureTimeout + config.migrationTimeout,
    hocuspocus: () => host.instance(),
    owner: (documentName) => host.ring()?.owner(documentName),
    node: (id) => host.ring()?.node(id),
    debug,
  });
  return { relay, ledger, admission, sender, fence, protocol };
}

/** Feeds the membership's rings, messages and departures to the parts. */
export function listen(membership: Membership, parts: Parts, host: Host): void {
  membership.on('ring', (ring) => onRing(parts, host, ring));
  membership.on('message', (message) => {
    if (message.type === CHANGES || message.type === CHANGES_MERGED) parts.fence.onMessage(message);
    else onHandoverMessage(message, parts.protocol);
  });
  membership.on('left', (node, reason) => {
    // Removed while it did not leave: this node was declared dead, and what it holds is stale.
    // (An operator's removal is 'removed': that node is alive and hands its documents over as usual.)
    if (node.id === host.config.nodeId) return void ((reason === 'failed' || reason === 'resync') && !host.leaving() && parts.fence.lostLease());
    // A node declared dead (its lease ran out) or gone gracefully holds nothing a new owner must wait for.
    if (reason === 'failed' || reason === 'graceful') parts.ledger.handedOverEverything(node.id);
  });
}

/** Throws the refusal (the hint) when the document takes no more updates here: moving, owned elsewhere, or stale. */
export async function checkMessage({ admission, sender, fence }: Parts, { config }: Host, documentName: string): Promise<void> {
  await fence.confirm();
  const misrouted = config.enforceRouting && !admission.ownsHere(documentName) && !sender.isQueued(documentName);
  if (sender.isMoving(documentName) || misrouted || fence.isStale(documentName)) throw new DocumentRefusal(admission.refusalReason(documentName, 0));
}

/** Throws FencedStore (and later store hooks do not run) unless this node may store the document now. */
export async function checkStore({ admission, sender, fence }: Parts, { config, counters }: Host, documentName: string, document?: DocumentLike): Promise<void> {
  await fence.confirm();
  const owner = !config.enforceRouting || admission.ownsHere(documentName) || sender.isBusy(documentName);
  if (fence.isStale(documentName) || !owner) {
    counters.fencedStores++;
    throw new FencedStore();
  }
  if (document) fence.storing(document);
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

export interface UpgradePayload {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

/** Relay mode takes every client socket over (and every node takes signed node links on RELAY_PATH): true if taken. */
export function takeUpgrade({ relay }: Parts, { config }: Host, { request, socket, head }: UpgradePayload): boolean {
  const link = request.url !== undefined && new URL(request.url, 'http://localhost').pathname === RELAY_PATH;
  if (!link && (config.misroute !== 'relay' || !config.enforceRouting)) return false;
  relay.handleUpgrade(request, socket, head);
  return true;
}

/** A new ring: remember it for handovers, and hand over every held document this node no longer owns. */
export function onRing({ ledger, relay, admission, sender, fence }: Parts, { config, membership }: Host, ring: Ring): void {
  ledger.observe(ring);
  relay.ringChanged(ring);
  admission.prune();
  if (!config.enforceRouting || !membership()) return;
  for (const documentName of sender.held()) {
    const owner = ring.owner(documentName);
    if (owner && owner.id !== config.nodeId && !fence.isStale(documentName)) void sender.handOver(documentName);
  }
}
