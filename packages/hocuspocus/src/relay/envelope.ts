/**
 * The node link's framing: many relayed client connections share one WebSocket between a relaying node and an
 * owner, each one a numbered channel. A link message carries one or more envelopes back to back, each
 * `kind (1 byte) | channel (uint32 BE) | length (uint32 BE) | payload`:
 * - OPEN (relay -> owner): payload is the JSON of the client's {@link ChannelRequest};
 * - FRAME (both ways): payload is one Hocuspocus frame, untouched;
 * - CLOSE (both ways): the relay dropped the channel, or the owner closed it (payload: uint16 code, UTF-8 reason).
 */
export const Kind = { Open: 0, Frame: 1, Close: 2 } as const;
const HEADER = 9;
const EMPTY = new Uint8Array(0);

/** What the owner needs to authenticate a relayed client as if it had connected directly. */
export interface ChannelRequest {
  /** Path and query of the client's upgrade request (Hocuspocus reads URL parameters from it). */
  url: string;
  /** The client's end-to-end request headers (cookie, authorization, ...), x-forwarded-for extended. */
  headers: Record<string, string>;
}

export interface Envelope {
  kind: number;
  channel: number;
  payload: Uint8Array;
}

/**
 * The envelopes queued for one link during one turn of the event loop, sent as one link message: one socket
 * write (and one wake-up of the peer) for an owner's broadcast to many relayed clients, instead of one per frame.
 * Order is kept, so a channel's OPEN, FRAMEs and CLOSE arrive as queued. While the link cannot take them yet (still
 * connecting) they wait, and go out with the first flush after it can.
 */
export class Outbox {
  private queued: Envelope[] = [];
  private size = 0;

  constructor(
    private readonly write: (message: Buffer) => void,
    private readonly ready: () => boolean = () => true,
  ) {}

  add(kind: number, channel: number, payload: Uint8Array = EMPTY): void {
    if (this.queued.length === 0) setImmediate(this.flush);
    this.queued.push({ kind, channel, payload });
    this.size += HEADER + payload.length;
  }

  /** Forgets what is queued (the link dropped: its channels are gone with it). */
  clear(): void {
    this.queued = [];
    this.size = 0;
  }

  /** Sends what is queued as one link message, if the link can take it. */
  readonly flush = (): void => {
    if (this.queued.length === 0 || !this.ready()) return;
    const message = Buffer.allocUnsafe(this.size);
    let offset = 0;
    for (const { kind, channel, payload } of this.queued) {
      message[offset] = kind;
      message.writeUInt32BE(channel, offset + 1);
      message.writeUInt32BE(payload.length, offset + 5);
      message.set(payload, offset + HEADER);
      offset += HEADER + payload.length;
    }
    this.clear();
    this.write(message);
  };
}

/** The envelopes of one link message; undefined if any is malformed (the whole message is dropped). */
export function decode(message: Buffer): Envelope[] | undefined {
  const envelopes: Envelope[] = [];
  for (let offset = 0; offset < message.length;) {
    if (message.length - offset < HEADER || message[offset]! > Kind.Close) return undefined;
    const end = offset + HEADER + message.readUInt32BE(offset + 5);
    if (end > message.length) return undefined;
    envelopes.push({ kind: message[offset]!, channel: message.readUInt32BE(offset + 1), payload: message.subarray(offset + HEADER, end) });
    offset = end;
  }
  return envelopes.length > 0 ? envelopes : undefined;
}

export const openPayload = (request: ChannelRequest): Uint8Array => Buffer.from(JSON.stringify(request));

export function closePayload(code: number, reason: string): Uint8Array {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

export function decodeClose(payload: Uint8Array): { code: number; reason: string } {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return bytes.length < 2 ? { code: 1000, reason: '' } : { code: bytes.readUInt16BE(0), reason: bytes.subarray(2).toString('utf8') };
}

/** The OPEN payload, schema-checked (a link is authenticated, but a bad peer must not crash the owner). */
export function decodeOpen(payload: Uint8Array): ChannelRequest | undefined {
  try {
    const value = JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
    if (value === null || typeof value !== 'object') return undefined;
    const { url, headers } = value as Record<string, unknown>;
    if (typeof url !== 'string' || !url.startsWith('/') || headers === null || typeof headers !== 'object') return undefined;
    if (!Object.values(headers).every((header) => typeof header === 'string')) return undefined;
    return { url, headers: headers as Record<string, string> };
  } catch {
    return undefined;
  }
}
