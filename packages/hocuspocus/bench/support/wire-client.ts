/**
 * A lightweight Hocuspocus client for connection-count benchmarks: one `ws` socket that speaks what
 * `@hocuspocus/provider` sends when it opens a document (its Auth token, the first sync step of an empty Y.Doc, its
 * awareness state), answers the server's first sync step, and renews its awareness as y-protocols does for a
 * provider (every 15 s). It keeps no Y.Doc and decodes nothing it receives beyond the frame head, so ten thousand of
 * them fit in one process; a provider's per-connection cost is measured beside it in scale.ts.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocket } from 'ws';
import * as Y from 'yjs';

const MessageType = { Sync: 0, Awareness: 1, Auth: 2 } as const;
const Sync = { Step1: 0, Step2: 1 } as const;
const Auth = { Token: 0, PermissionDenied: 1 } as const;
/** y-protocols' Awareness renews a local state after half its 30 s timeout. */
export const AWARENESS_RENEWAL_MS = 15_000;

const empty = new Y.Doc();
const EMPTY_STATE_VECTOR = Y.encodeStateVector(empty);
const EMPTY_UPDATE = Y.encodeStateAsUpdate(empty);

function frame(documentName: string, type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarString(encoder, documentName);
  encoding.writeVarUint(encoder, type);
  write(encoder);
  return encoding.toUint8Array(encoder);
}

export interface WireClientOptions {
  token?: string;
  /** Awareness client id and state (sent on open and renewed every 15 s); none when omitted. */
  awareness?: { clientId: number; state: Record<string, unknown> };
  /** Keep the document's state received in the second sync step (else only its size). */
  keepUpdate?: boolean;
}

export interface Synced {
  /** Size of the Yjs update in the server's second sync step (the whole document for a new client). */
  bytes: number;
  update?: Uint8Array;
}

export class WireClient {
  readonly socket: WebSocket;
  /** Resolves when the server's second sync step arrives (a provider's `synced`); rejects on refusal or close. */
  readonly synced: Promise<Synced>;
  private clock = 0;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    url: string,
    readonly documentName: string,
    private readonly options: WireClientOptions = {},
  ) {
    this.socket = new WebSocket(url, { perMessageDeflate: false });
    this.synced = new Promise<Synced>((resolve, reject) => {
      this.socket.on('open', () => this.open());
      this.socket.on('message', (data: Buffer) => {
        const decoder = decoding.createDecoder(data);
        if (decoding.readVarString(decoder) !== documentName) return;
        const type = decoding.readVarUint(decoder);
        if (type === MessageType.Auth && decoding.readVarUint(decoder) === Auth.PermissionDenied)
          return reject(new Error(`${documentName}: permission denied (${decoding.readVarString(decoder)})`));
        if (type !== MessageType.Sync) return;
        const step = decoding.readVarUint(decoder);
        if (step === Sync.Step1)
          this.send(MessageType.Sync, (e) => (encoding.writeVarUint(e, Sync.Step2), encoding.writeVarUint8Array(e, EMPTY_UPDATE)));
        else if (step === Sync.Step2) {
          const update = decoding.readVarUint8Array(decoder);
          resolve({ bytes: update.byteLength, update: options.keepUpdate ? update : undefined });
        }
      });
      this.socket.on('error', reject);
      this.socket.on('close', (code, reason) => {
        clearInterval(this.renewal);
        reject(new Error(`${documentName}: closed (${code} ${reason.toString()})`));
      });
    });
    this.synced.catch(() => {}); // observed by whoever awaits it; a late close must not be unhandled
  }

  close(): void {
    clearInterval(this.renewal);
    this.socket.terminate();
  }

  private open(): void {
    this.send(MessageType.Auth, (e) => (encoding.writeVarUint(e, Auth.Token), encoding.writeVarString(e, this.options.token ?? '')));
    this.send(MessageType.Sync, (e) => (encoding.writeVarUint(e, Sync.Step1), encoding.writeVarUint8Array(e, EMPTY_STATE_VECTOR)));
    if (!this.options.awareness) return;
    this.sendAwareness();
    // At a random phase, as clients that opened at different times would.
    const first = setTimeout(() => {
      this.sendAwareness();
      this.renewal = setInterval(() => this.sendAwareness(), AWARENESS_RENEWAL_MS);
    }, Math.random() * AWARENESS_RENEWAL_MS);
    this.renewal = first;
  }

  private sendAwareness(): void {
    const { clientId, state } = this.options.awareness!;
    const update = encoding.createEncoder();
    encoding.writeVarUint(update, 1);
    encoding.writeVarUint(update, clientId);
    encoding.writeVarUint(update, this.clock++);
    encoding.writeVarString(update, JSON.stringify(state));
    this.send(MessageType.Awareness, (e) => encoding.writeVarUint8Array(e, encoding.toUint8Array(update)));
  }

  private send(type: number, write: (encoder: encoding.Encoder) => void): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(frame(this.documentName, type, write));
  }
}
