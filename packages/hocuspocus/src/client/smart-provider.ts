import { HocuspocusProvider, type CompleteHocuspocusProviderConfiguration, type HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { reportUnhandled, TypedEmitter, type PayloadListeners, type Ring } from '@ringroute/ring-core';
import type * as Y from 'yjs';
import { MISROUTED_REASON, parseRedirectHint, UNAVAILABLE_REASON, type RedirectHint } from '../hint/index.js';
import { SmartRouteError, type MoveReason, type SmartProviderEvents } from './events.js';
import { decideMove, ownerTarget, type Backoff, type NodeTarget } from './routing.js';

/** Provider options of `client.open()`: everything but what the client decides (name and socket). */
export type OpenOptions = Partial<Omit<CompleteHocuspocusProviderConfiguration, 'name' | 'websocketProvider'>>;

/** What a SmartProvider needs from its client: the ring, the routing guards and the per-node sockets. */
export interface SmartProviderHost {
  readonly ring: Ring | undefined;
  readonly maxHops: number;
  readonly backoff: Backoff;
  refreshRing(): Promise<Ring | undefined>;
  acquire(target: NodeTarget, documentName: string): HocuspocusProviderWebsocket;
  release(socket: HocuspocusProviderWebsocket, refused?: string): void;
  forget(handle: SmartProvider): void;
}

const isRefusal = (reason: unknown) => reason === MISROUTED_REASON || reason === UNAVAILABLE_REASON;

/**
 * One open document: a HocuspocusProvider that the client moves between per-node sockets. Moving keeps the
 * provider and its Y.Doc, so edits made before or during a move are sent by the sync handshake on the new node.
 */
export class SmartProvider extends TypedEmitter<PayloadListeners<SmartProviderEvents>> {
  /** The underlying provider: bind editors to it as usual. */
  readonly provider: HocuspocusProvider;
  private current: NodeTarget;
  private moves = 0;
  private rerouting = false;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private cancelWait: (() => void) | undefined;

  constructor(
    private readonly host: SmartProviderHost,
    readonly documentName: string,
    target: NodeTarget,
    options: OpenOptions,
  ) {
    super();
    const { onAuthenticationFailed, onClose } = options;
    this.current = target;
    this.provider = new HocuspocusProvider({
      ...options,
      name: documentName,
      websocketProvider: host.acquire(target, documentName),
      // Routing refusals are handled here; the application only sees the ones that are its own.
      onAuthenticationFailed: (data) => {
        if (!this.onRefusal(data.reason)) onAuthenticationFailed?.(data);
      },
      onClose: (data) => {
        if (!this.onRefusal(data.event?.reason)) onClose?.(data);
      },
    });
    this.provider.on('synced', this.onSynced);
    this.provider.attach();
  }

  get document(): Y.Doc {
    return this.provider.document;
  }

  /** Id of the node the document is attached to (undefined while on a seed URL whose id is unknown). */
  get nodeId(): string | undefined {
    return this.current.id;
  }

  /** WebSocket URL of the node the document is attached to. */
  get nodeUrl(): string {
    return this.current.url;
  }

  /** Moves since the document was last synced. */
  get hops(): number {
    return this.moves;
  }

  get isSynced(): boolean {
    return this.provider.isSynced;
  }

  /** Resolves once the document is synced with a node (at once if it is); rejects if the client gives up. */
  whenSynced(): Promise<void> {
    if (this.provider.isSynced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.off('synced', done);
        this.off('error', fail);
        resolve();
      };
      const fail = (error: SmartRouteError) => {
        this.off('synced', done);
        this.off('error', fail);
        reject(error);
      };
      this.on('synced', done);
      this.on('error', fail);
    });
  }

  /** After an `error`: forget the hops made so far and connect to the owner by the current ring again. */
  reconnect(): void {
    if (this.closed || this.rerouting) return;
    this.moves = 0;
    const ring = this.host.ring;
    const target = (ring && ownerTarget(ring, this.documentName)) ?? this.current;
    this.detachFromNode(false);
    this.attachTo(target, 'ring');
  }

  /** Follows a new ring of the client: if it names another owner, the document moves there. */
  followRing(ring: Ring): void {
    if (this.closed || this.rerouting || !this.provider.isAttached) return;
    const owner = ownerTarget(ring, this.documentName);
    if (!owner || owner.id === this.current.id) return;
    void this.reroute(undefined, 'ring');
  }

  /** Detaches the document from its node and releases the node's socket if nothing else uses it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.cancelWait?.();
    const attached = this.provider.isAttached;
    const socket = this.provider.configuration.websocketProvider;
    this.provider.destroy();
    if (attached) this.host.release(socket);
    this.host.forget(this);
    this.removeAllListeners();
  }

  private readonly onSynced = () => {
    this.moves = 0;
    this.emit('synced', { documentName: this.documentName, nodeId: this.current.id });
  };

  /** True when `reason` is a SmartRoute refusal (handled here), false when it belongs to the application. */
  private onRefusal(reason: unknown): boolean {
    const hint = parseRedirectHint(reason);
    if (!hint && !isRefusal(reason)) return false;
    if (hint && hint.documentName !== this.documentName) return true;
    if (!this.closed && !this.rerouting) void this.reroute(hint, hint ? 'redirect' : 'refused');
    return true;
  }

  private async reroute(hint: RedirectHint | undefined, reason: MoveReason): Promise<void> {
    this.rerouting = true;
    const refused = reason !== 'ring';
    try {
      // The node refused or closed the document: stop talking to it about this document right away.
      if (refused) this.detachFromNode(true);
      // Without a hint only the ring can say where to go: make sure it is fresh.
      const ring = refused && !hint ? await this.host.refreshRing() : this.host.ring;
      const decision = decideMove({
        documentName: this.documentName,
        hint,
        ring,
        hops: this.moves,
        maxHops: this.host.maxHops,
        backoff: this.host.backoff,
      });
      if (decision.action === 'give-up') {
        // A ring change alone never takes a working document away: its node will redirect it if need be.
        if (!refused) return;
        const error = new SmartRouteError(decision.reason, this.documentName, decision.hops);
        // Never silent: a document that stopped syncing must show up somewhere.
        if (!this.emit('error', error)) reportUnhandled(error, '@ringroute/hocuspocus/client');
        return;
      }
      if (decision.refreshRing) void this.host.refreshRing();
      await this.wait(decision.delay);
      if (this.closed) return;
      this.moves = decision.hops;
      this.detachFromNode(refused);
      this.attachTo(decision.target, reason);
    } finally {
      this.rerouting = false;
    }
  }

  private wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.cancelWait = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /**
   * `refused`: the node already dropped the document, so no Close message is sent (it would only open a new
   * pending entry for the document on that node's connection).
   */
  private detachFromNode(refused: boolean): void {
    if (!this.provider.isAttached) return;
    const socket = this.provider.configuration.websocketProvider;
    if (refused) socket.configuration.providerMap.delete(providerKey(this.provider));
    this.provider.detach();
    // Resets `synced` (so the next node's sync emits it again) and drops remote awareness states.
    this.provider.onClose();
    this.host.release(socket, refused ? this.documentName : undefined);
  }

  private attachTo(target: NodeTarget, reason: MoveReason): void {
    const from = this.current;
    this.current = target;
    this.provider.setConfiguration({ websocketProvider: this.host.acquire(target, this.documentName) });
    this.provider.attach();
    if (from.url !== target.url || from.id !== target.id)
      this.emit('move', { documentName: this.documentName, from, to: target, reason, hops: this.moves });
  }
}

/** The key a socket files a provider under: `effectiveName` in 4.x (session-aware), the plain name in 3.4. */
function providerKey(provider: HocuspocusProvider): string {
  const effective = (provider as { effectiveName?: unknown }).effectiveName;
  return typeof effective === 'string' ? effective : provider.configuration.name;
}
