import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BackendHooks, BusMessage, ClusterChange, ClusterState, Heartbeat } from './backend.js';
import type { DropReason, LeaveReason, MessageSigner } from './types.js';

/** Wire format version; a message with another version is refused as 'schema'. */
const VERSION = 1;
const LEAVE_REASONS: readonly LeaveReason[] = ['graceful', 'failed', 'removed', 'resync'];

/** A refused message: why, and a short detail for the 'dropped' event. */
export class Rejected extends Error {
  constructor(
    readonly reason: DropReason,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * Encodes and checks everything a shared membership writes to its store (Redis, etcd):
 * `{"body":"<json>","sig":"<hex hmac>"}`. The body carries the wire version and the cluster name, so a message can
 * neither be replayed into another cluster nor altered without the secret. Decoding never throws anything but
 * `Rejected`. Node-only (node:crypto): the isomorphic root entry never imports it.
 */
export class Codec implements MessageSigner {
  constructor(
    private readonly cluster: string,
    private readonly secret: string | undefined,
    readonly maxBytes: number,
  ) {}

  /** The snapshot is exempt from maxBytes: it grows with the cluster (about 100 bytes per member). */
  encode(payload: BusMessage | ClusterState | (Heartbeat & { kind: 'heartbeat' })): string {
    const body = JSON.stringify({ v: VERSION, cluster: this.cluster, ...payload });
    const text = JSON.stringify(this.secret === undefined ? { body } : { body, sig: this.sign([body]) });
    if (!('nodes' in payload) && Buffer.byteLength(text) > this.maxBytes)
      throw new RangeError(`membership message is ${Buffer.byteLength(text)} bytes; maxMessageBytes is ${this.maxBytes}`);
    return text;
  }

  /** Decodes one bus message for the hooks: a valid one to `message`, a refused one to `dropped` with its reason. */
  deliver(text: string, hooks: Pick<BackendHooks, 'message' | 'dropped'> | undefined): void {
    let message: BusMessage;
    try {
      message = this.decodeMessage(text);
    } catch (error) {
      const { reason, message } = error as Rejected; // decodeMessage throws nothing else
      hooks?.dropped(reason, message);
      return;
    }
    hooks?.message(message);
  }

  decodeMessage(text: string): BusMessage {
    const body = this.open(text);
    if (!isBusMessage(body)) throw new Rejected('schema', 'not a change or app message');
    return stripEnvelope(body) as BusMessage;
  }

  /** A member's stored heartbeat, or null when it has none or it is refused (then counted as dropped). */
  readHeartbeat(text: string | null, node: string, hooks: Pick<BackendHooks, 'dropped'> | undefined): Heartbeat | null {
    if (text === null) return null; // never beat, or its key expired
    try {
      const heartbeat = this.decodeHeartbeat(text);
      if (heartbeat.node !== node) throw new Rejected('schema', `heartbeat of ${heartbeat.node} under the key of ${node}`);
      return heartbeat;
    } catch (error) {
      const { reason, message } = error as Rejected; // decodeHeartbeat throws nothing else
      hooks?.dropped(reason, `heartbeat of ${node}: ${message}`);
      return null;
    }
  }

  decodeHeartbeat(text: string): Heartbeat {
    const body = this.open(text);
    if (!isHeartbeat(body)) throw new Rejected('schema', 'heartbeat does not match the schema');
    const { kind: _kind, ...heartbeat } = stripEnvelope(body);
    return heartbeat as unknown as Heartbeat;
  }

  decodeState(text: string): ClusterState {
    const body = this.open(text, Infinity);
    if (!isState(body)) throw new Rejected('schema', 'snapshot does not match the schema');
    return stripEnvelope(body) as unknown as ClusterState;
  }

  /** Size, envelope, signature, body JSON, version and cluster: everything before the message's own schema. */
  private open(text: string, maxBytes = this.maxBytes): Record<string, unknown> {
    if (Buffer.byteLength(text) > maxBytes) throw new Rejected('oversized', `${Buffer.byteLength(text)} bytes`);
    const envelope = parse(text);
    if (!isObject(envelope) || typeof envelope.body !== 'string') throw new Rejected('malformed', 'not a membership envelope');
    if (this.secret !== undefined) {
      if (envelope.sig === undefined) throw new Rejected('unsigned', 'no signature');
      if (typeof envelope.sig !== 'string' || !this.verify([envelope.body], envelope.sig))
        throw new Rejected('signature', 'signature does not match');
    }
    const body = parse(envelope.body);
    if (!isObject(body)) throw new Rejected('malformed', 'body is not a JSON object');
    if (body.v !== VERSION) throw new Rejected('schema', `unsupported version ${JSON.stringify(body.v)}`);
    if (body.cluster !== this.cluster) throw new Rejected('cluster', `addressed to cluster ${JSON.stringify(body.cluster)}`);
    return body;
  }

  get signed(): boolean {
    return this.secret !== undefined;
  }

  /** HMAC-SHA256 (hex) of the parts in order with the secret; '' without one. */
  sign(parts: readonly (string | Uint8Array)[]): string {
    if (this.secret === undefined) return '';
    const hmac = createHmac('sha256', this.secret);
    for (const part of parts) hmac.update(part);
    return hmac.digest('hex');
  }

  /** Constant-time check of a signature over the parts; without a secret everything passes, as unsigned messages do. */
  verify(parts: readonly (string | Uint8Array)[], signature: string | undefined): boolean {
    if (this.secret === undefined) return true;
    if (typeof signature !== 'string') return false;
    const expected = Buffer.from(this.sign(parts), 'hex');
    const given = Buffer.from(signature, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Rejected('malformed', 'invalid JSON');
  }
}

function stripEnvelope(body: Record<string, unknown>): Record<string, unknown> {
  const { v: _v, cluster: _cluster, ...rest } = body;
  return rest;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
const isSpecArray = (value: unknown) => Array.isArray(value) && value.every((v) => isObject(v) && typeof v.id === 'string');
const optional = (value: unknown, check: (v: unknown) => boolean) => value === undefined || check(value);

function isBusMessage(body: Record<string, unknown>): boolean {
  if (typeof body.sender !== 'string') return false;
  switch (body.kind) {
    case 'change':
      return isSeq(body.seq) && isChange(body.change);
    case 'app':
      return typeof body.type === 'string' && optional(body.from, (f) => typeof f === 'string');
    default:
      return false;
  }
}

function isHeartbeat(body: Record<string, unknown>): boolean {
  // beat and sentAt (ms since the epoch) are non-negative integers too; without them a replay goes unnoticed.
  return (
    body.kind === 'heartbeat' &&
    typeof body.sender === 'string' &&
    typeof body.node === 'string' &&
    isSeq(body.seq) &&
    isSeq(body.beat) &&
    isSeq(body.sentAt)
  );
}

const isIncarnations = (value: unknown) => isObject(value) && Object.values(value).every(isSeq);

function isChange(change: unknown): change is ClusterChange {
  return (
    isObject(change) &&
    optional(change.add, isSpecArray) &&
    optional(change.remove, isStringArray) &&
    optional(change.update, isSpecArray) &&
    optional(change.join, isStringArray) &&
    optional(change.reason, (r) => LEAVE_REASONS.includes(r as LeaveReason)) &&
    optional(change.incarnations, isIncarnations) &&
    optional(change.drain, isIncarnations) &&
    optional(change.pins, (p) => isObject(p) && Object.values(p).every((t) => t === null || typeof t === 'string'))
  );
}

function isState(body: Record<string, unknown>): boolean {
  return (
    isSeq(body.seq) &&
    isSpecArray(body.nodes) &&
    isObject(body.pins) &&
    Object.values(body.pins).every((t) => typeof t === 'string') &&
    isStringArray(body.members) &&
    optional(body.incarnations, isIncarnations) &&
    optional(body.drained, isIncarnations) &&
    optional(body.generation, isSeq)
  );
}
