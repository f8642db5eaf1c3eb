import { WebSocket } from 'ws';
import type { Channel } from './channel.js';
import { closePayload, decode, decodeClose, Kind, openPayload, Outbox, type ChannelRequest, type Envelope } from './envelope.js';

/**
 * Node links are authenticated node-to-node connections, never a browser's traffic through a shared cache, so the
 * client-to-server masking of RFC 6455 (section 10.3) protects nothing on them: an all-zero mask makes `ws` skip it
 * (no random mask and no XOR per frame).
 */
const noMask = (mask: Uint8Array): void => void mask.fill(0);

export interface UpstreamEvents {
  /** A frame the owner's Hocuspocus sends to the client. */
  deliver(frame: Uint8Array): void;
  /** The owner's Hocuspocus closed the client's socket (bad frames, timeouts). */
  closed(code: number, reason: string): void;
  /** The link dropped (owner gone, refused or unresponsive): the channel no longer exists there. */
  lost(): void;
}

/** A link that stays silent this long (ping unanswered) is dropped: a paused owner looks like this. */
const HEARTBEAT = 5_000;
/** An idle link is kept this long for the next relayed client. */
const IDLE = 30_000;

/**
 * The one WebSocket from this node to one owner node, shared by every client this node relays there: channels
 * are multiplexed on it ({@link Outbox}), frames wait until it is open, and it is opened on demand, reused,
 * and closed after a while without channels. When it drops, every channel on it is lost; the sessions
 * re-point them (to the same node once it answers again, or to the next owner).
 */
export class Upstream {
  private socket: WebSocket | undefined;
  private readonly channels = new Map<number, UpstreamEvents>();
  private readonly outbox = new Outbox(
    (message) => this.socket!.send(message),
    () => this.socket?.readyState === WebSocket.OPEN,
  );
  private nextChannel = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private answered = true;

  constructor(
    readonly url: string,
    /** Fresh handshake headers (the signed link token) for each connection. */
    private readonly headers: () => Record<string, string>,
    private readonly onMalformed: () => void,
  ) {}

  get channelCount(): number {
    return this.channels.size;
  }

  open(request: ChannelRequest, events: UpstreamEvents): Channel {
    const id = this.nextChannel;
    this.nextChannel = this.nextChannel >= 0xffff_ffff ? 1 : this.nextChannel + 1;
    this.channels.set(id, events);
    clearTimeout(this.idle);
    this.send(Kind.Open, id, openPayload(request));
    return {
      push: (frame) => {
        if (this.channels.has(id)) this.send(Kind.Frame, id, frame);
      },
      close: () => {
        if (!this.channels.delete(id)) return;
        this.send(Kind.Close, id, closePayload(1000, ''));
        if (this.channels.size === 0) this.idle = setTimeout(() => this.close(), IDLE).unref();
      },
    };
  }

  /** Drops the link; its channels are lost. */
  close(): void {
    clearTimeout(this.idle);
    this.socket?.terminate();
    this.drop();
  }

  private send(kind: number, channel: number, payload: Uint8Array): void {
    if (!this.socket) this.connect();
    this.outbox.add(kind, channel, payload);
  }

  private connect(): WebSocket {
    // A paused owner accepts TCP but never answers the upgrade: give up like a silent link.
    const socket = new WebSocket(this.url, {
      headers: this.headers(),
      perMessageDeflate: false,
      handshakeTimeout: HEARTBEAT * 2,
      generateMask: noMask,
    });
    this.socket = socket;
    socket.on('open', () => {
      this.outbox.flush();
      this.answered = true;
      this.heartbeat = setInterval(() => {
        if (!this.answered) return socket.terminate();
        this.answered = false;
        socket.ping();
      }, HEARTBEAT).unref();
    });
    socket.on('pong', () => (this.answered = true));
    socket.on('message', (data: Buffer) => {
      this.answered = true;
      this.receive(data);
    });
    socket.on('error', () => {}); // 'close' follows; the sessions re-point
    socket.on('close', () => {
      if (this.socket === socket) this.drop();
    });
    return socket;
  }

  private receive(data: Buffer): void {
    const envelopes = decode(data);
    if (!envelopes) return this.onMalformed();
    for (const envelope of envelopes) this.deliver(envelope);
  }

  private deliver(envelope: Envelope): void {
    const events = this.channels.get(envelope.channel);
    if (!events) return; // a channel this side already closed
    if (envelope.kind === Kind.Frame) return events.deliver(envelope.payload);
    if (envelope.kind === Kind.Close) {
      this.channels.delete(envelope.channel);
      const { code, reason } = decodeClose(envelope.payload);
      events.closed(code, reason);
    }
  }

  private drop(): void {
    clearInterval(this.heartbeat);
    this.socket = undefined;
    this.outbox.clear();
    const lost = [...this.channels.values()];
    this.channels.clear();
    for (const events of lost) events.lost();
  }
}
