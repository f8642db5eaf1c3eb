import type { Ring } from '@ringroute/ring-core';
import type { RedirectHint } from '../hint/index.js';

/** A node the client can open a socket to. `id` is undefined for a seed URL whose node id is not known yet. */
export interface NodeTarget {
  id: string | undefined;
  /** WebSocket URL (ws: or wss:). */
  url: string;
}

export interface Backoff {
  /** Delay before the second move, in ms (the first move after a refusal is immediate). */
  delay: number;
  /** Growth of the delay per further move. */
  factor: number;
  /** Upper bound of the delay, in ms. */
  maxDelay: number;
}

/** Node URLs in a ring may be http(s) or ws(s); sockets need ws(s). */
export function toWebSocketUrl(url: string): string {
  return url.replace(/^http(s?):/i, 'ws$1:');
}

/** The ring endpoint is plain HTTP on the same port as the WebSocket server. */
export function toHttpUrl(url: string): string {
  return url.replace(/^ws(s?):/i, 'http$1:');
}

/** The owner of a document by the client's ring, or undefined when nothing routable has a URL. */
export function ownerTarget(ring: Ring, documentName: string): NodeTarget | undefined {
  const owner = ring.owner(documentName);
  return owner?.url === undefined ? undefined : { id: owner.id, url: toWebSocketUrl(owner.url) };
}

/** How long to wait before the `move`-th move since the document was last synced (1-based). */
export function backoffDelay(move: number, backoff: Backoff): number {
  if (move <= 1) return 0;
  return Math.min(backoff.maxDelay, backoff.delay * backoff.factor ** (move - 2));
}

export type MoveDecision =
  | {
      action: 'move';
      target: NodeTarget;
      /** Moves since the last sync, this one included. */
      hops: number;
      delay: number;
      /** The hint comes from a newer ring than ours: fetch it. */
      refreshRing: boolean;
    }
  | { action: 'give-up'; hops: number; reason: 'max-hops' | 'no-owner' };

export interface RefusalContext {
  documentName: string;
  /** The refusal's hint; undefined for a refusal without one (then the caller refreshes the ring first). */
  hint: RedirectHint | undefined;
  /** The client's current ring, if it has one. */
  ring: Ring | undefined;
  /** Moves made since the document was last synced. */
  hops: number;
  maxHops: number;
  backoff: Backoff;
}

/**
 * Where to go after a SmartRoute refusal. A hint decided with an older ring than ours does not override our
 * owner (that server has not caught up yet; we retry our owner after a backoff); a hint from a newer ring
 * wins and asks for a ring refetch. Every move counts towards `maxHops`, so disagreeing routers cannot
 * bounce a document forever.
 */
export function decideMove(context: RefusalContext): MoveDecision {
  const { hint, ring, documentName, maxHops, backoff } = context;
  const hops = context.hops + 1;
  if (hops > maxHops) return { action: 'give-up', hops: context.hops, reason: 'max-hops' };
  const ours = ring && ownerTarget(ring, documentName);
  const stale = hint !== undefined && ring !== undefined && hint.epoch < ring.epoch;
  const target = hint && !(stale && ours) ? { id: hint.ownerId, url: hint.ownerUrl } : ours;
  if (!target) return { action: 'give-up', hops: context.hops, reason: 'no-owner' };
  const refreshRing = hint !== undefined && (ring === undefined || hint.epoch > ring.epoch);
  return { action: 'move', target, hops, delay: backoffDelay(hops, backoff), refreshRing };
}
