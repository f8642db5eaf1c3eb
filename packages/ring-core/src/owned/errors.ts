/**
 * Thrown by owned state when this node may not serve a key now: another node owns it (the request was routed on a
 * ring that changed meanwhile), this node lost it, or its previous owner did not answer in time. Fastify and
 * Express (finalhandler) turn it into `503` with `Retry-After`: the client tries again and reaches the owner.
 */
export class StateUnavailableError extends Error {
  readonly statusCode = 503;
  readonly status = 503;
  readonly headers: Record<string, string>;
  /** Express: the message is safe to show. */
  readonly expose = true;

  constructor(
    readonly key: string,
    readonly reason: 'not-owner' | 'lost' | 'import-timeout' | 'stopped',
    message: string,
    retryAfter = 1,
  ) {
    super(message);
    this.name = 'StateUnavailableError';
    this.headers = { 'retry-after': String(retryAfter) };
  }
}

/** A value larger than `state.maxValueBytes` (it could not be moved): `413`. */
export class StateTooLargeError extends Error {
  readonly statusCode = 413;
  readonly status = 413;
  readonly expose = true;

  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly maxValueBytes: number,
  ) {
    super(`owned state for this key is ${bytes} bytes; state.maxValueBytes is ${maxValueBytes}`);
    this.name = 'StateTooLargeError';
  }
}
