/** Wire version of transfers: a request of another version is refused (400). */
export const WIRE_VERSION = 1;

/** What every transfer request says about its sender. */
export interface Envelope {
  v: number;
  /** The sending node's id. */
  from: string;
  /** The fencing token of the sender's ring. */
  token: number;
  /** Unique per request: answers are bound to it, and a push retried with it is recognised. */
  id: string;
  /** The sender's wall clock (ms): requests older than the replay window are refused. */
  sentAt: number;
}

/** One key's state in a push. */
export interface PushEntry {
  state: string;
  key: string;
  /** Stable across retries of this key's move: a receiver that took it already answers 'accepted' again. */
  transfer: string;
  value: Uint8Array;
}

export interface Push extends Envelope {
  entries: PushEntry[];
}

export interface Pull extends Envelope {
  state: string;
  key: string;
}

/**
 * Per pushed key: taken over; refused because the receiver does not own it by its ring, or does not keep that named
 * state (yet); already held there (a newer copy wins); or sent by a node the receiver knows lost it.
 */
export type PushResult = 'accepted' | 'not-owner' | 'unknown-state' | 'conflict' | 'fenced';
/** The previous owner's answer to a pull: it held nothing, it handed the key over now (confirmed), or it still owns it. */
export type PullResult = 'not-held' | 'moved' | 'owner';

export interface PushAnswer {
  token: number;
  results: PushResult[];
}

export interface PullAnswer {
  token: number;
  result: PullResult;
}

/** `u32 header length | header JSON (entries as [state, key, transfer, bytes]) | the values, back to back`. */
export function encodePush(envelope: Envelope, entries: readonly PushEntry[]): Buffer {
  const header = Buffer.from(
    JSON.stringify({ ...envelope, entries: entries.map((e) => [e.state, e.key, e.transfer, e.value.byteLength]) }),
  );
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, ...entries.map((e) => e.value)]);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function checkEnvelope(body: unknown): Envelope & Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new TypeError('not a transfer');
  const e = body as Record<string, unknown>;
  if (e.v !== WIRE_VERSION) throw new TypeError(`unsupported transfer version ${JSON.stringify(e.v)}`);
  if (!isString(e.from) || !isCount(e.token) || !isString(e.id) || !isCount(e.sentAt)) throw new TypeError('malformed transfer envelope');
  return e as Envelope & Record<string, unknown>;
}

/** Decodes a push; throws TypeError on anything malformed. */
export function decodePush(body: Buffer): Push {
  if (body.length < 4) throw new TypeError('truncated transfer');
  const headerLength = body.readUInt32BE(0);
  if (4 + headerLength > body.length) throw new TypeError('truncated transfer header');
  const header = checkEnvelope(JSON.parse(body.subarray(4, 4 + headerLength).toString('utf8')));
  if (!Array.isArray(header.entries)) throw new TypeError('malformed transfer entries');
  let offset = 4 + headerLength;
  const entries = header.entries.map((entry: unknown) => {
    if (!Array.isArray(entry) || !isString(entry[0]) || !isString(entry[1]) || !isString(entry[2]) || !isCount(entry[3]))
      throw new TypeError('malformed entry');
    const end = offset + entry[3];
    if (end > body.length) throw new TypeError('truncated entry');
    // A copy: a key kept for long must not keep its whole transfer's buffer alive.
    const value = new Uint8Array(body.subarray(offset, end));
    offset = end;
    return { state: entry[0], key: entry[1], transfer: entry[2], value };
  });
  if (offset !== body.length) throw new TypeError('trailing bytes after the entries');
  const { v, from, token, id, sentAt } = header;
  return { v, from, token, id, sentAt, entries };
}

export function decodePull(body: Buffer): Pull {
  const pull = checkEnvelope(JSON.parse(body.toString('utf8')));
  if (!isString(pull.state) || !isString(pull.key)) throw new TypeError('malformed pull');
  return pull as unknown as Pull;
}

export function decodePushAnswer(body: unknown, count: number): PushAnswer {
  const answer = body as Partial<PushAnswer> | null;
  const results = ['accepted', 'not-owner', 'unknown-state', 'conflict', 'fenced'];
  if (
    !isCount(answer?.token) ||
    !Array.isArray(answer.results) ||
    answer.results.length !== count ||
    !answer.results.every((r) => results.includes(r))
  )
    throw new TypeError('malformed push answer');
  return answer as PushAnswer;
}

export function decodePullAnswer(body: unknown): PullAnswer {
  const answer = body as Partial<PullAnswer> | null;
  if (!isCount(answer?.token) || !['not-held', 'moved', 'owner'].includes(answer.result as string))
    throw new TypeError('malformed pull answer');
  return answer as PullAnswer;
}
