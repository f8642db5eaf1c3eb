import { HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { checkString, fail, TypedEmitter, type PayloadListeners, type Ring } from '@ringroute/ring-core';
import { resolveClientOptions, type ResolvedClientOptions, type SmartClientOptions } from './options.js';
import { RingSource } from './ring-source.js';
import { ownerTarget, toWebSocketUrl, type Backoff, type NodeTarget } from './routing.js';
import { SmartProvider, type OpenOptions, type SmartProviderHost } from './smart-provider.js';

export interface SmartClientEvents {
  /** A newer ring was fetched; open documents whose owner changed move to it. */
  ring: { ring: Ring; previous: Ring | undefined };
  /** No node answered the ring request; the client keeps its last ring (or follows hints from a seed node). */
  ringError: { error: unknown };
}

interface NodeSocket {
  key: string;
  socket: HocuspocusProviderWebsocket;
  users: number;
  /** Documents the node refused on this socket: a 3.4 server never accepts them again on the same socket. */
  refused: Set<string>;
}

/** Ring refreshes triggered by lost sockets are spaced at least this far apart (a dead node fails every retry). */
const DISCONNECT_REFRESH_INTERVAL = 1000;

/**
 * The SmartRoute client (seed 003's smart client for Hocuspocus): computes each document's owner from a ring
 * fetched from any node, connects there first, keeps one socket per node for all the documents it owns, and
 * moves a document's provider to the owner's socket when a node answers with a redirect hint.
 */
export class SmartClient extends TypedEmitter<PayloadListeners<SmartClientEvents>> implements SmartProviderHost {
  private readonly options: ResolvedClientOptions;
  private readonly rings: RingSource;
  private readonly pool = new Map<string, NodeSocket>();
  private readonly bySocket = new Map<HocuspocusProviderWebsocket, NodeSocket>();
  private readonly handles = new Map<string, SmartProvider>();
  private lastRefresh = 0;
  private destroyed = false;

  constructor(options: SmartClientOptions) {
    super();
    this.options = resolveClientOptions(options);
    this.rings = new RingSource(this.options.nodes, this.options.fetch, this.options.ringTimeout, (ring, previous) => {
      this.emit('ring', { ring, previous });
      for (const handle of this.handles.values()) handle.followRing(ring);
    });
  }

  /** The last ring fetched, or undefined before the first successful fetch. */
  get ring(): Ring | undefined {
    return this.rings.ring;
  }

  get maxHops(): number {
    return this.options.maxHops;
  }

  get backoff(): Backoff {
    return this.options.backoff;
  }

  /** Open sockets by node id (or by URL for a seed whose id is unknown). */
  get sockets(): ReadonlyMap<string, HocuspocusProviderWebsocket> {
    return new Map([...this.pool].map(([key, entry]) => [key, entry.socket]));
  }

  /** Open documents by name. */
  get documents(): ReadonlyMap<string, SmartProvider> {
    return new Map(this.handles);
  }

  /** Fetches the ring now from any node. Never rejects: on failure it emits `ringError` and returns the last ring. */
  async refreshRing(): Promise<Ring | undefined> {
    this.lastRefresh = Date.now();
    try {
      return await this.rings.refresh();
    } catch (error) {
      this.emit('ringError', { error });
      return this.rings.ring;
    }
  }

  /**
   * Opens a document on its owner. Resolves once the provider is attached (use `whenSynced()` or the
   * provider's events for the sync); redirects are followed without application code.
   */
  async open(documentName: string, options: OpenOptions = {}): Promise<SmartProvider> {
    checkString('documentName', documentName);
    if (options === null || typeof options !== 'object') fail('options', 'must be an object of provider options');
    if (this.destroyed) throw new Error('SmartClient: open() after destroy()');
    const ring = this.rings.ring ?? (await this.refreshRing());
    if (this.destroyed) throw new Error('SmartClient: open() after destroy()');
    // One provider per document and socket: Hocuspocus files providers by document name.
    if (this.handles.has(documentName)) fail('documentName', `${JSON.stringify(documentName)} is already open on this client`);
    // Without a ring, start at a seed node: its redirect hint names the owner.
    const target = (ring && ownerTarget(ring, documentName)) ?? { id: undefined, url: toWebSocketUrl(this.options.nodes[0]!) };
    const handle = new SmartProvider(this, documentName, target, options);
    this.handles.set(documentName, handle);
    return handle;
  }

  /** Closes every open document and socket. */
  destroy(): void {
    this.destroyed = true;
    for (const handle of [...this.handles.values()]) handle.close();
    for (const entry of this.pool.values()) entry.socket.destroy();
    this.pool.clear();
    this.bySocket.clear();
    this.removeAllListeners();
  }

  /**
   * @internal The socket to a node, opened on first use and shared by every document on that node. A document
   * the node refused on the current socket gets a fresh one, which then becomes the node's socket.
   */
  acquire(target: NodeTarget, documentName: string): HocuspocusProviderWebsocket {
    const key = target.id ?? target.url;
    let entry = this.pool.get(key);
    if (!entry || entry.socket.configuration.url !== target.url || entry.refused.has(documentName)) {
      const socket = new HocuspocusProviderWebsocket({
        ...this.options.socket,
        url: target.url,
        WebSocketPolyfill: this.options.WebSocketPolyfill,
      });
      socket.on('disconnect', this.onSocketDisconnect);
      entry = { key, socket, users: 0, refused: new Set() };
      this.pool.set(key, entry);
      this.bySocket.set(socket, entry);
    }
    entry.users++;
    return entry.socket;
  }

  /** @internal A document left the socket (`refused`: the node refused it); a socket nothing uses is closed. */
  release(socket: HocuspocusProviderWebsocket, refused?: string): void {
    const entry = this.bySocket.get(socket);
    if (!entry) return;
    if (refused !== undefined) entry.refused.add(refused);
    if (--entry.users > 0) return;
    this.bySocket.delete(socket);
    if (this.pool.get(entry.key) === entry) this.pool.delete(entry.key);
    socket.destroy();
  }

  /** @internal */
  forget(handle: SmartProvider): void {
    if (this.handles.get(handle.documentName) === handle) this.handles.delete(handle.documentName);
  }

  /** A lost socket may be a lost node: ask the cluster (throttled); a changed owner moves the documents. */
  private readonly onSocketDisconnect = () => {
    if (this.destroyed || Date.now() - this.lastRefresh < DISCONNECT_REFRESH_INTERVAL) return;
    void this.refreshRing();
  };
}

/** Creates a SmartRoute client. */
export function createSmartClient(options: SmartClientOptions): SmartClient {
  return new SmartClient(options);
}
