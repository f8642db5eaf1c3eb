/**
 * Just enough of the Hocuspocus wire format to route a frame without decoding it: every frame starts with a
 * varString address (the document name; 4.x may append `\0sessionId`), then a varUint message type. The relay
 * reads those, plus the reason of the two server answers that can mean "not my document" (a Close frame and
 * an Auth permission-denied frame), and nothing else: no Y.Doc, no sync decoding.
 */

/** Hocuspocus message types (the same numbers in 3.4 and 4.x). */
export const MessageType = { Sync: 0, Awareness: 1, Auth: 2, Close: 7, SyncStatus: 8 } as const;
/** Auth sub-types: a client's token, the server's refusal and its acceptance. */
export const AuthType = { Token: 0, PermissionDenied: 1, Authenticated: 2 } as const;
/** y-protocols sync sub-types: the first sync step (the sender's state vector), the second (what the other side lacks), an update. */
export const SYNC_STEP_1 = 0;
export const SYNC_STEP_2 = 1;
export const SYNC_UPDATE = 2;

export interface FrameHead {
  /** The raw address: what Hocuspocus keys a connection by. */
  address: string;
  /** The document part of the address: what the ring routes. */
  documentName: string;
  type: number;
  /** The varUint after the type (Auth and Sync sub-type), when there is one. */
  subtype: number | undefined;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  varUint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.offset >= this.bytes.length) throw new RangeError('truncated varUint');
      const byte = this.bytes[this.offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new RangeError('varUint too long');
  }

  varString(): string {
    const length = this.varUint();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new RangeError('truncated varString');
    const text = decoder.decode(this.bytes.subarray(this.offset, end));
    this.offset = end;
    return text;
  }

  skipVarString(): void {
    const length = this.varUint();
    this.offset += length;
    if (this.offset > this.bytes.length) throw new RangeError('truncated varString');
  }

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }
}

/** The address and type of a frame; undefined when the frame is malformed (the relay then drops the client). */
export function peek(frame: Uint8Array): FrameHead | undefined {
  try {
    const reader = new Reader(frame);
    const address = reader.varString();
    const type = reader.varUint();
    const subtype = reader.done ? undefined : reader.varUint();
    const separator = address.indexOf('\0');
    return { address, documentName: separator === -1 ? address : address.slice(0, separator), type, subtype };
  } catch {
    return undefined;
  }
}

/** What the relay reads of a server's frame: its type, sub-type, and the reason of a Close or a permission-denied. */
export interface Answer {
  type: number;
  subtype: number | undefined;
  /** Set for a Close frame and an Auth permission-denied frame. */
  reason: string | undefined;
}

/** Reads a server's frame without decoding its address; undefined when malformed (forwarded untouched). */
export function answerOf(frame: Uint8Array): Answer | undefined {
  try {
    const reader = new Reader(frame);
    reader.skipVarString();
    const type = reader.varUint();
    if (type === MessageType.Close) return { type, subtype: undefined, reason: reader.varString() };
    const subtype = reader.done ? undefined : reader.varUint();
    const reason = type === MessageType.Auth && subtype === AuthType.PermissionDenied ? reader.varString() : undefined;
    return { type, subtype, reason };
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

function varUint(value: number, out: number[]): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function varString(text: string, out: number[]): void {
  const bytes = encoder.encode(text);
  varUint(bytes.length, out);
  for (const byte of bytes) out.push(byte);
}

/** The Auth permission-denied frame a server sends for `address` (what a provider reports as authenticationFailed). */
export function permissionDenied(address: string, reason: string): Uint8Array {
  const out: number[] = [];
  varString(address, out);
  varUint(MessageType.Auth, out);
  varUint(AuthType.PermissionDenied, out);
  varString(reason, out);
  return Uint8Array.from(out);
}
