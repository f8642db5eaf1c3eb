import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { MISROUTED_REASON, REDIRECT_PREFIX, UNAVAILABLE_REASON } from '../hint/index.js';
import { Acknowledgements } from './acks.js';
import { answerOf, AuthType, MessageType, peek, permissionDenied, SYNC_STEP_1, type FrameHead } from './address.js';
import type { Channel } from './channel.js';

/** Where a document's frames go: this node's Hocuspocus, or the owner's over a node link. */
export interface Targets {
  /** The owner's id by the current ring (this node's id, or undefined before a ring, means here). */
  ownerOf(documentName: string): string;
  open(target: string, request: IncomingMessage, events: TargetEvents): Channel;
  /** How long a document may be refused by every owner tried before the refusal reaches the client (ms). */
  giveUpAfter(): number;
  repointed(): void;
}

export interface TargetEvents {
  deliver(frame: Uint8Array): void;
  closed(code: number, reason: string): void;
  lost(): void;
}

/** Frames kept for a client while its document has no owner to go to (the re-sync covers updates beyond it). */
const MAX_PENDING = 1_000;
/** Hocuspocus's close for a frame it cannot decode. */
const UNAUTHORIZED = { code: 4401, reason: 'Unauthorized' };

const isRoutingRefusal = (reason: string) =>
  reason === MISROUTED_REASON || reason === UNAVAILABLE_REASON || reason.startsWith(REDIRECT_PREFIX);

/** One document address of one client, and where its frames go now. */
interface Route {
  documentName: string;
  target: string;
  channel: Channel | undefined;
  /** The client's last token, first sync step and awareness: replayed to a new owner. */
  auth?: Uint8Array;
  step1?: Uint8Array;
  awareness?: Uint8Array;
  /** The client was told it is authenticated: a new owner's answer to the replayed token is not repeated. */
  authenticated: boolean;
  pending: Uint8Array[];
  /** The client's SyncStatus accounting across re-points. */
  acks: Acknowledgements;
  /** Re-point attempts since an owner last served the route, and when the first of them began. */
  attempts: number;
  since: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A client socket this node took over. Each frame's address picks its route; a route sends the document's
 * frames to the owner (here or over a link) and the owner's answers back, untouched. When the owner refuses
 * the document (it moved: a handover closes it with a routing reason, or a new owner's ring lags), or the link
 * drops, the route re-points to the current owner: it opens a new channel and replays the client's token,
 * first sync step and awareness. The owner answers the sync step with its own, the client replies with every
 * update the owner lacks, so updates in flight to the old owner are not lost, and the client's socket stays.
 */
export class Session {
  private readonly routes = new Map<string, Route>();
  private closed = false;
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: IncomingMessage,
    private readonly targets: Targets,
    timeout: number,
    private readonly onEnd: (session: Session) => void,
  ) {
    socket.on('message', (data: Buffer) => this.fromClient(data));
    socket.on('pong', () => (this.alive = true));
    socket.on('error', () => {}); // 'close' follows
    socket.once('close', () => this.end());
    this.heartbeat = setInterval(() => {
      if (!this.alive) return socket.terminate();
      this.alive = false;
      socket.ping();
    }, timeout).unref();
  }

  /** Closes the client's socket (the node is going away, or the owner closed it). */
  close(code = 1001, reason = 'going away'): void {
    // Codes a peer may not send (1005, 1006, 1015, ...) would make ws throw: the owner's code is sanitised.
    const sendable = (code >= 3000 && code <= 4999) || (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code));
    this.socket.close(sendable ? code : 1011, Buffer.byteLength(reason) <= 123 ? reason : '');
    this.end();
  }

  private fromClient(frame: Buffer): void {
    const head = peek(frame);
    if (!head) return this.close(UNAUTHORIZED.code, UNAUTHORIZED.reason);
    let route = this.routes.get(head.address);
    if (!route) {
      route = {
        documentName: head.documentName,
        target: '',
        channel: undefined,
        authenticated: false,
        pending: [],
        acks: new Acknowledgements(),
        attempts: 0,
        since: undefined,
        timer: undefined,
      };
      this.routes.set(head.address, route);
      this.open(head.address, route, false);
    }
    remember(route, head, frame);
    if (route.channel) {
      route.acks.pushed(head);
      route.channel.push(frame);
    } else if (route.pending.length < MAX_PENDING) route.pending.push(frame);
    else route.acks.pushed(head, false);
    // The provider detached the document: its connection ends here (the owner's answer is not awaited).
    if (head.type === MessageType.Close) this.drop(head.address, route);
  }

  private drop(address: string, route: Route): void {
    clearTimeout(route.timer);
    route.channel?.close();
    this.routes.delete(address);
  }

  private open(address: string, route: Route, replay: boolean): void {
    route.timer = undefined;
    if (this.closed) return;
    route.target = this.targets.ownerOf(route.documentName);
    const channel: Channel = this.targets.open(route.target, this.request, {
      deliver: (frame) => route.channel === channel && this.fromOwner(address, route, frame),
      closed: (code, reason) => route.channel === channel && this.close(code, reason),
      lost: () => route.channel === channel && this.repoint(address, route, undefined),
    });
    route.channel = channel;
    const pending = route.pending.splice(0);
    if (replay) for (const frame of [route.auth, route.step1, route.awareness]) if (frame) channel.push(frame);
    for (const frame of pending) {
      route.acks.pushed(peek(frame)!); // a sync step 1 replayed from pending still counts as the client's
      if (!replay || (frame !== route.auth && frame !== route.step1 && frame !== route.awareness)) channel.push(frame);
    }
  }

  private fromOwner(address: string, route: Route, frame: Uint8Array): void {
    const answer = answerOf(frame);
    if (answer?.reason !== undefined && isRoutingRefusal(answer.reason)) return this.repoint(address, route, frame);
    route.attempts = 0;
    route.since = undefined;
    if (answer?.type === MessageType.Auth && answer.subtype === AuthType.Authenticated) {
      if (route.authenticated) return; // the answer to a replayed token
      route.authenticated = true;
    }
    if (answer?.reason !== undefined && answer.type === MessageType.Auth) route.authenticated = false;
    // A SyncStatus may answer a frame the client does not count, or also settle frames an old owner never answered.
    const times = answer?.type === MessageType.SyncStatus ? route.acks.status() : 1;
    for (let i = 0; i < times; i++) this.socket.send(frame);
  }

  /**
   * The owner refused the document or the link dropped: try the current owner again after a backoff (at once
   * the first time: a handover has usually reached this node's ring already). A document no owner takes for
   * `giveUpAfter` gets the last refusal (`ringroute:unavailable` when no owner answered), as a direct client would.
   */
  private repoint(address: string, route: Route, refusal: Uint8Array | undefined): void {
    route.channel?.close();
    if (route.channel) route.acks.lost();
    route.channel = undefined;
    if (this.closed || route.timer) return;
    const now = Date.now();
    route.since ??= now;
    if (now - route.since > this.targets.giveUpAfter()) {
      this.drop(address, route);
      this.socket.send(refusal ?? permissionDenied(address, UNAVAILABLE_REASON));
      return;
    }
    this.targets.repointed();
    const delay = route.attempts === 0 ? 0 : Math.min(25 * 2 ** route.attempts, 1_000);
    route.attempts++;
    route.timer = setTimeout(() => this.open(address, route, true), delay);
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const route of this.routes.values()) {
      clearTimeout(route.timer);
      route.channel?.close();
    }
    this.routes.clear();
    this.onEnd(this);
  }
}

/** Keeps what a new owner needs to take the client over: its token, first sync step and awareness. */
function remember(route: Route, head: FrameHead, frame: Uint8Array): void {
  if (head.type === MessageType.Auth && head.subtype === AuthType.Token) route.auth = frame;
  else if (head.type === MessageType.Sync && head.subtype === SYNC_STEP_1) route.step1 = frame;
  else if (head.type === MessageType.Awareness) route.awareness = frame;
}
