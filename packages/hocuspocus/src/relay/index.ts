import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Ring, RingNode } from '@ringroute/ring-core';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HocuspocusLike } from '../hocuspocus/index.js';
import { LINK_HEADER, linkToken, verifyLinkToken } from './auth.js';
import { channelRequest, openChannel, type Channel } from './channel.js';
import { serveLink } from './endpoint.js';
import { Session, type TargetEvents, type Targets } from './session.js';
import { Upstream } from './upstream.js';

export { LINK_HEADER } from './auth.js';

/** The path node links connect to (every SmartRoute node serves it; only signed links are accepted). */
export const RELAY_PATH = '/api/routes/relay';

/** What the relay needs from SmartRoute. */
export interface RelayHost {
  readonly nodeId: string;
  /** The cluster secret (the `secret` option): it signs node links; without it links are refused. */
  readonly secret: string | undefined;
  /**
   * How long a relayed document may find no owner (refused, or the owner unreachable) before the client sees the
   * refusal (ms): at least failure detection (an owner that died stays in the ring for 2 x failureTimeout) plus a
   * handover (a new owner waits up to migrationTimeout for a live old owner).
   */
  readonly giveUpAfter: number;
  hocuspocus(): HocuspocusLike | undefined;
  /** The document's owner by the current ring; undefined before a ring (the document is then served here). */
  owner(documentName: string): RingNode | undefined;
  /** A node of the current ring. */
  node(id: string): RingNode | undefined;
  debug(message: string): void;
}

/** Counters for `GET /api/routes/stats`. */
export interface RelayCounters {
  /** Client sockets taken over. */
  sessions: number;
  /** Client connections (one per document address) relayed to another node. */
  relayed: number;
  /** Re-points: a relayed document whose owner refused it or whose link dropped, sent to the current owner. */
  repointed: number;
  /** Node links accepted / refused (no or a bad signature). */
  linksAccepted: number;
  linksRefused: number;
  /** Link messages that could not be decoded (dropped). */
  malformed: number;
}

/** Hocuspocus's default ping interval; 3.4 and 4.x close a silent client after it. */
const DEFAULT_TIMEOUT = 30_000;

/**
 * Relay mode (`misroute: 'relay'`): this node takes over every client socket in `onUpgrade`, reads each
 * frame's address, serves documents it owns on its own Hocuspocus, and forwards the others' frames to their
 * owners over one multiplexed WebSocket per owner node (signed with the cluster secret). No Redis on the data
 * path and no Y.Doc here: the owner authenticates the client and holds the document.
 *
 * Apps that run Hocuspocus without its Server (calling handleConnection themselves) call
 * `smartRoute.relay.handleUpgrade(request, socket, head)` from their HTTP server's `upgrade` event instead.
 */
export class Relay {
  readonly counters: RelayCounters = { sessions: 0, relayed: 0, repointed: 0, linksAccepted: 0, linksRefused: 0, malformed: 0 };
  private readonly server = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly upstreams = new Map<string, Upstream>();
  private readonly sessions = new Set<Session>();
  private readonly links = new Set<WebSocket>();

  constructor(private readonly host: RelayHost) {}

  /** Client sockets taken over and open now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Takes over an HTTP upgrade: a node link on {@link RELAY_PATH} (refused with 401 unless signed with the
   * cluster secret), or a client socket.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (new URL(request.url ?? '/', 'http://localhost').pathname === RELAY_PATH) return this.acceptLink(request, socket, head);
    this.server.handleUpgrade(request, socket, head, (client) => {
      const timeout = this.host.hocuspocus()?.configuration?.timeout ?? DEFAULT_TIMEOUT;
      const session = new Session(client, request, this.targets, timeout, (ended) => this.sessions.delete(ended));
      this.sessions.add(session);
      this.counters.sessions++;
    });
  }

  /**
   * A new ring: links to nodes that left it or were declared dead are dropped now, so their documents re-point
   * at once instead of waiting for the link's heartbeat.
   */
  ringChanged(ring: Ring): void {
    for (const [id, upstream] of this.upstreams) {
      const node = ring.node(id);
      if (node && node.status !== 'dead') continue;
      upstream.close();
      this.upstreams.delete(id);
    }
  }

  /** Closes every client socket and node link (the node is going away). */
  close(): void {
    for (const session of this.sessions) session.close();
    for (const upstream of this.upstreams.values()) upstream.close();
    for (const link of this.links) link.terminate();
    this.upstreams.clear();
    this.server.close();
  }

  private acceptLink(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const from = verifyLinkToken(this.host.secret, this.host.nodeId, request.headers[LINK_HEADER]);
    const instance = this.host.hocuspocus();
    if (from === undefined || !instance) {
      this.counters.linksRefused++;
      this.host.debug(
        `refused a node link from ${request.socket.remoteAddress ?? '?'}: ${from === undefined ? 'bad or missing signature' : 'not configured'}`,
      );
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (link) => {
      this.counters.linksAccepted++;
      this.links.add(link);
      link.once('close', () => this.links.delete(link));
      serveLink(link, instance, () => this.counters.malformed++);
    });
  }

  /** The link to a node: from its address and port (the address nodes reach each other on), else its URL. */
  private upstream(node: RingNode): Upstream {
    const { address, port } = node.meta ?? {};
    const base =
      typeof address === 'string' && typeof port === 'number'
        ? `ws://${address.includes(':') ? `[${address}]` : address}:${port}`
        : node.url!;
    const url = new URL(RELAY_PATH, base.replace(/^http/, 'ws')).href;
    let upstream = this.upstreams.get(node.id);
    if (upstream?.url !== url) {
      upstream?.close();
      const { nodeId, secret } = this.host;
      const headers = (): Record<string, string> => (secret === undefined ? {} : { [LINK_HEADER]: linkToken(secret, nodeId, node.id) });
      upstream = new Upstream(url, headers, () => this.counters.malformed++);
      this.upstreams.set(node.id, upstream);
    }
    return upstream;
  }

  private readonly targets: Targets = {
    ownerOf: (documentName: string): string => this.host.owner(documentName)?.id ?? this.host.nodeId,
    open: (target: string, request: IncomingMessage, events: TargetEvents): Channel => {
      const instance = this.host.hocuspocus();
      const here = target === this.host.nodeId;
      if (here && instance) return openChannel(instance, request, events);
      const node = here ? undefined : this.host.node(target);
      if (!node?.url) {
        // Not configured yet, or the node left the ring meanwhile: lost, so the route re-points later.
        queueMicrotask(() => events.lost());
        return { push() {}, close() {} };
      }
      this.counters.relayed++;
      return this.upstream(node).open(channelRequest(request), events);
    },
    giveUpAfter: () => this.host.giveUpAfter,
    repointed: () => void this.counters.repointed++,
  };
}
