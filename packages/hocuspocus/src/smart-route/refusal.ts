/**
 * What SmartRoute throws from a hook to refuse a document. Hocuspocus sends `reason` to the provider (3.4 and
 * 4.x: `writePermissionDenied(error.reason)` after onConnect/onAuthenticate/onLoadDocument, and the close
 * reason when a beforeHandleMessage hook throws), so the reason is what carries the redirect hint. A plain
 * Error would reach the client as "permission-denied".
 *
 * The message is empty on purpose: Hocuspocus logs every hook error that has a message, and a refusal is a
 * routing answer, not a failure.
 */
export class DocumentRefusal extends Error {
  /** Close code used when a document's connections are closed (4000-4999: application codes). */
  readonly code = 4421;

  constructor(readonly reason: string) {
    super('');
    this.name = 'DocumentRefusal';
  }
}

/** Thrown from beforeUnloadDocument to keep Hocuspocus from unloading a document whose final store is not confirmed. */
export class HoldDocument extends Error {
  constructor() {
    super('');
    this.name = 'HoldDocument';
  }
}

/** Thrown from onStoreDocument to keep later store hooks (persistence) from writing a document this node lost. */
export class FencedStore extends Error {
  constructor() {
    super(''); // empty, like DocumentRefusal: Hocuspocus rethrows (unhandled, from a timer) errors that have a message
    this.name = 'FencedStore';
  }
}
