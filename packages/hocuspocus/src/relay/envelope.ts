/**
 * The node link's framing: many relayed client connections share one WebSocket between a relaying node and an
 * owner, each one a numbered channel. Every link message is `kind (1 byte) | channel (uint32 BE) | payload`:
 * - OPEN (relay -> owner): payload is the JSON of the client's {@link ChannelRequest};
 * - FRAME (both ways): payload is one Hocuspocus frame, untouched;
 * - CLOSE (both ways): the relay dropped the channel, or the owner closed it (payload: uint16 code, UTF-8 reason).
 */
export const Kind = { Open: 0, Frame: 1, Close: 2 } as const;
const HEADER = 5;

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

export function encode(kind: number, channel: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const message = Buffer.allocUnsafe(HEADER + payload.length);
  message[0] = kind;
  message.writeUInt32BE(channel, 1);
  message.set(payload, HEADER);
  return message;
}

export function decode(message: Buffer): Envelope | undefined {
  if (message.length < HEADER || message[0]! > Kind.Close) return undefined;
  return { kind: message[0]!, channel: message.readUInt32BE(1), payload: message.subarray(HEADER) };
}

export const encodeOpen = (channel: number, request: ChannelRequest) => encode(Kind.Open, channel, Buffer.from(JSON.stringify(request)));

export function encodeClose(channel: number, code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return encode(Kind.Close, channel, payload);
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
