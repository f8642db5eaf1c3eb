import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Membership, Ring } from '@ringroute/ring-core';
import { Admission } from '../admission/index.js';
import { Fence } from '../handover/fence.js';
import { HandoverLedger } from '../handover/ledger.js';
import { HANDED_OVER, HANDOVER_REQUEST, type ProtocolContext } from '../handover/protocol.js';
import { HandoverSender } from '../handover/sender.js';
import { isHeld, type DocumentLike, type HocuspocusLike } from '../hocuspocus/index.js';
import type { ResolvedOptions } from '../options/index.js';
import { Relay, RELAY_PATH } from '../relay/index.js';
import type { SmartRouteCounters } from './counters.js';
import { announceRing } from './membership.js';
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
    announceRing: () => {
      const ring = host.ring();
      if (ring && config.enforceRouting) announceRing(parts, host, ring);
    },
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
  const parts: Parts = { relay, ledger, admission, sender, fence, protocol };
  return parts;
}

/** Throws the refusal (the hint) when the document takes no more updates here: moving, owned elsewhere, or stale. */
export async function checkMessage({ admission, sender, fence }: Parts, { config }: Host, documentName: string): Promise<void> {
  await fence.confirm();
  const misrouted = config.enforceRouting && !admission.ownsHere(documentName) && !sender.isQueued(documentName);
  if (sender.isMoving(documentName) || misrouted || fence.isStale(documentName))
    throw new DocumentRefusal(admission.refusalReason(documentName, 0));
}

/** Throws FencedStore (and later store hooks do not run) unless this node may store the document now. */
export async function checkStore(
  { admission, sender, fence }: Parts,
  { config, counters }: Host,
  documentName: string,
  document?: DocumentLike,
): Promise<void> {
  await fence.confirm();
  const owner = !config.enforceRouting || admission.ownsHere(documentName) || sender.isBusy(documentName);
  if (fence.isStale(documentName) || !owner) {
    counters.fencedStores++;
    throw new FencedStore();
  }
  if (document) fence.storing(document);
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
