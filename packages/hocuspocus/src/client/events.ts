import type { NodeTarget } from './routing.js';

/** Why a document moved to another node. */
export type MoveReason =
  /** The node refused the document (or closed it on migration) with a redirect hint. */
  | 'redirect'
  /** The node refused without a hint; the client asked its (refreshed) ring. */
  | 'refused'
  /** The client's ring changed owner (a refresh after a newer hint or a lost node). */
  | 'ring';

export interface MoveEvent {
  documentName: string;
  from: NodeTarget;
  to: NodeTarget;
  reason: MoveReason;
  /** Moves since the document was last synced, this one included. */
  hops: number;
}

export type SmartRouteErrorCode =
  /** The document moved `maxHops` times without syncing anywhere. */
  | 'max-hops'
  /** No node can take the document: nothing routable with a URL in the ring, and no hint. */
  | 'no-owner';

/** Emitted (as the `error` event) when the client gives up on a document; it stays detached until `reconnect()`. */
export class SmartRouteError extends Error {
  constructor(
    readonly code: SmartRouteErrorCode,
    readonly documentName: string,
    readonly hops: number,
  ) {
    super(
      code === 'max-hops'
        ? `document ${JSON.stringify(documentName)} was redirected ${hops} times without syncing; giving up (maxHops)`
        : `no node can take document ${JSON.stringify(documentName)} (no routable owner with a URL)`,
    );
    this.name = 'SmartRouteError';
  }
}

export interface SmartProviderEvents {
  move: MoveEvent;
  synced: { documentName: string; nodeId: string | undefined };
  error: SmartRouteError;
}
