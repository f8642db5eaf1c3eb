import type { ClusterMessage } from '@ringroute/ring-core';
import type { HandoverLedger, RingIdentity } from './ledger.js';
import type { HandoverSender } from './sender.js';

/**
 * Cluster messages of the handover protocol (sent with `membership.broadcast`, signed like every membership
 * message). One name for the idea: a document's old owner *hands it over* (refuses it, moves its clients, stores,
 * unloads) and announces it; the new owner loads it only after hearing that (or once the old owner is gone).
 */
export const HANDED_OVER = 'ringroute:hocuspocus:handed-over';
export const HANDOVER_REQUEST = 'ringroute:hocuspocus:handover-request';
export const HANDED_OVER_ALL = 'ringroute:hocuspocus:handed-over-all';
/**
 * "I have this ring and hold none of the documents it gives to others": new owners load those without asking.
 * With `ask` (a node that just joined and missed the earlier ones) the others announce their own rings.
 */
export const HANDED_OVER_RING = 'ringroute:hocuspocus:handed-over-ring';

const MAX_DOCUMENT_NAME = 1024;

/** The body of HANDED_OVER and HANDOVER_REQUEST (`nodeId`: the node asked to hand over), or undefined if malformed. */
export function handoverMessage(data: unknown): { documentName: string; nodeId?: string } | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const { documentName, nodeId } = data as Record<string, unknown>;
  if (typeof documentName !== 'string' || documentName.length === 0 || documentName.length > MAX_DOCUMENT_NAME) return undefined;
  if (nodeId !== undefined && typeof nodeId !== 'string') return undefined;
  return { documentName, nodeId };
}

/** The body of HANDED_OVER_RING, or undefined if malformed. */
export function ringMessage(data: unknown): (RingIdentity & { ask: boolean }) | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const { epoch, checksum, ask } = data as Record<string, unknown>;
  if (
    !Number.isSafeInteger(epoch) ||
    (epoch as number) < 0 ||
    typeof checksum !== 'string' ||
    checksum.length === 0 ||
    checksum.length > 64
  )
    return undefined;
  return { epoch: epoch as number, checksum, ask: ask === true };
}

/** What answering the protocol's messages needs. */
export interface ProtocolContext {
  readonly nodeId: string;
  readonly ledger: HandoverLedger;
  readonly sender: HandoverSender;
  /** Announces this node's ring (HANDED_OVER_RING) if it holds none of the documents that ring gives away. */
  announceRing(): void;
  /** Whether this node's ring still makes it the document's owner. */
  ownsHere(documentName: string): boolean;
  /** Whether this node has the document loaded or loading. */
  holds(documentName: string): boolean;
  broadcast(type: string, data: unknown): Promise<void>;
}

/** Handles one handover message from another node: record an announcement, or answer a request addressed to us. */
export function onHandoverMessage({ type, data, from }: ClusterMessage, context: ProtocolContext): void {
  if (from === undefined) return;
  if (type === HANDED_OVER_ALL) return context.ledger.handedOverEverything(from);
  if (type === HANDED_OVER_RING) {
    const ring = ringMessage(data);
    if (ring) context.ledger.handedOverRing(from, ring);
    if (ring?.ask) context.announceRing();
    return;
  }
  const message = handoverMessage(data);
  if (!message) return;
  const { documentName } = message;
  if (type === HANDED_OVER) return context.ledger.handedOver(documentName, from);
  if (type !== HANDOVER_REQUEST || message.nodeId !== context.nodeId) return;
  // Still the owner by our ring: the change has not reached us yet; the requester asks again.
  if (context.ownsHere(documentName)) return;
  if (context.sender.isBusy(documentName) || context.holds(documentName)) void context.sender.handOver(documentName, true);
  else void context.broadcast(HANDED_OVER, { documentName });
}
