import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { decide, StaticMembership, type ClusterMessage, type Membership, type Ring, type RoutingDecision } from '@ringroute/ring-core';
import { createMembership } from '../cluster/index.js';
import { HandoffLedger, RELEASE_REQUEST, RELEASED, RELEASED_ALL } from '../handoff/index.js';
import { encodeRedirectHint, HOPS_PARAMETER, MISROUTED_REASON, REDIRECT_PREFIX, UNAVAILABLE_REASON } from '../hint/index.js';
import {
  closeConnections,
  isHeld,
  parameter,
  storeDocument,
  unloadDocument,
  type DocumentLike,
  type HocuspocusLike,
} from '../hocuspocus/index.js';
import { Monitoring } from '../monitoring/index.js';
import { Relay, RELAY_PATH } from '../relay/index.js';
import { clusterNode, resolveOptions, type ClusterNode, type ResolvedOptions, type SmartRouteOptions } from '../options/index.js';
import { DocumentRefusal, HoldDocument } from './refusal.js';

export { DocumentRefusal } from './refusal.js';

/** Counters for `GET /api/routes/stats`. */
export interface SmartRouteCounters {
  /** Documents admitted here (connections and loads). */
  admitted: number;
  /** Refusals carrying a redirect hint. */
  redirected: number;
  /** Refusals without a hint (redirects off, no owner, too many hops). */
  refused: number;
  /** Admissions that waited for a previous owner's release. */
  waitedForRelease: number;
  /** Of those, the ones that gave up waiting after migrationTimeout. */
  releaseTimeouts: number;
  /** Documents this node flushed, unloaded and released to a new owner. */
  released: number;
  /** Releases that could not complete (the store kept failing); the document stays here. */
  releaseFailures: number;
  /** Store attempts that failed during a release (each is retried). */
  storeFailures: number;
}

interface UpgradePayload {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

interface DocumentPayload {
  documentName: string;
  instance?: HocuspocusLike;
  requestParameters?: URLSearchParams;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const MAX_DOCUMENT_NAME = 1024;

function releaseMessage(data: unknown): { documentName: string; nodeId?: string } | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const { documentName, nodeId } = data as Record<string, unknown>;
  if (typeof documentName !== 'string' || documentName.length === 0 || documentName.length > MAX_DOCUMENT_NAME) return undefined;
  if (nodeId !== undefined && typeof nodeId !== 'string') return undefined;
  return { documentName, nodeId };
}

/**
 * SmartRoute: consistent-hash document routing for a Hocuspocus cluster. Each document has one owner node;
 * other nodes refuse it (with a redirect hint when `redirectOnMisroute` is on), and when ownership moves the
 * old owner flushes and releases the document before the new owner loads it.
 *
 * ```ts
 * new Server({ extensions: [new SmartRoute({ nodeId: 'node-1', nodePort: 8000, redis: 'redis://127.0.0.1:6379', redirectOnMisroute: true }), new Database({...})] })
 * ```
 */
export class SmartRoute {
  /** Runs before persistence and auth extensions: a refused document is never authenticated or loaded. */
  readonly priority = 1000;
  readonly extensionName = 'SmartRoute';
  readonly counters: SmartRouteCounters = {
    admitted: 0,
    redirected: 0,
    refused: 0,
    waitedForRelease: 0,
    releaseTimeouts: 0,
    released: 0,
    releaseFailures: 0,
    storeFailures: 0,
  };
  private readonly config: ResolvedOptions;
  private readonly ledger: HandoffLedger;
  private readonly monitoring: Monitoring;
  /** Relay mode's client sockets and node links (`misroute: 'relay'`); `relay.handleUpgrade` for apps without Server. */
  readonly relay: Relay;
  private instance: HocuspocusLike | undefined;
  private membership: Membership | undefined;
  /**
   * Whether nodes can announce releases to each other. A static membership is local to each process: nobody
   * could answer, so a new owner loads at once (the old owner still flushes before it lets go).
   */
  private coordinated = false;
  private starting: Promise<Membership> | undefined;
  private leaving: Promise<void> | undefined;
  /** Documents being handed over; their final store is confirmed once they are in `flushed`. */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly flushed = new Set<string>();
  /** When this node last asked for a document's release (requests are repeated, not flooded). */
  private readonly lastRequest = new Map<string, number>();

  constructor(options: SmartRouteOptions = {}) {
    this.config = resolveOptions(options);
    this.ledger = new HandoffLedger(this.config.nodeId, this.config.migrationTimeout);
    this.monitoring = new Monitoring(this, this.config);
    const { nodeId, secret, migrationTimeout } = this.config;
    this.relay = new Relay({
      nodeId,
      secret,
      migrationTimeout,
      hocuspocus: () => this.instance,
      owner: (documentName) => this.ring?.owner(documentName),
      node: (id) => this.ring?.node(id),
      debug: (message) => this.debug(message),
    });
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  /** true once this node has joined the cluster and has a ring (readiness), until it leaves. */
  get isInitialized(): boolean {
    return this.membership?.ready === true && this.leaving === undefined;
  }

  /** The current ring, or undefined before start. */
  get ring(): Ring | undefined {
    return this.membership?.ready ? this.membership.ring : undefined;
  }

  /** The Hocuspocus instance, once configured. */
  get hocuspocus(): HocuspocusLike | undefined {
    return this.instance;
  }

  /** Joins the cluster. Runs on `onListen`; call it yourself when Hocuspocus runs without `Server.listen()`. */
  async start(): Promise<void> {
    await this.joined();
  }

  /**
   * Leaves the cluster gracefully: marks this node leaving (its documents move), hands every loaded document
   * over (clients get redirect hints, stores are flushed and confirmed), announces it, then stops the
   * membership. Call it before `server.destroy()`; onDestroy calls it too.
   */
  leave(): Promise<void> {
    this.leaving ??= this.handOverEverything();
    return this.leaving;
  }

  /** Adds a node to the ring (shared with every node when the membership is Redis). */
  async addClusterNode(node: ClusterNode): Promise<void> {
    const spec = clusterNode(node, 'node');
    const membership = await this.joined();
    await membership.add(spec);
  }

  /** Removes a node from the ring; its documents move to their new owners. */
  async removeClusterNode(id: string): Promise<void> {
    const membership = await this.joined();
    await membership.remove(id);
  }

  /** Pins a document to a node for the whole cluster (null unpins); the current owner hands it over. */
  async pin(documentName: string, nodeId: string | null): Promise<void> {
    const membership = await this.joined();
    await membership.pin(documentName, nodeId);
  }

  /** Resolves when the document is not being handed over by this node (any release in progress finished). */
  async settled(documentName: string): Promise<void> {
    await this.releasing.get(documentName)?.catch(() => {});
  }

  /**
   * Resolves true once `nodeId` has released the document (its handover, store included, is done), or false
   * after migrationTimeout. For this node it waits for its own handover.
   */
  async released(documentName: string, nodeId: string): Promise<boolean> {
    if (nodeId === this.config.nodeId) {
      await this.settled(documentName);
      return !this.instance?.documents.has(documentName) || !this.ownsHere(documentName);
    }
    const since = Date.now();
    const deadline = since + this.config.migrationTimeout;
    while (!this.ledger.heardRelease(documentName, nodeId, since)) {
      if (Date.now() >= deadline) return false;
      this.requestRelease(documentName, [nodeId]);
      await this.ledger.changed(Math.min(this.retryInterval, deadline - Date.now()));
    }
    return true;
  }

  /** The routing decision for a document on this node. */
  decide(documentName: string, hops = 0): RoutingDecision | undefined {
    const ring = this.ring;
    if (!ring) return undefined;
    const { nodeId, enforceRouting, redirectOnMisroute, maxHops } = this.config;
    // A relaying node never admits a document it does not own: its relay sent it to the owner instead.
    return decide(ring, documentName, { self: nodeId, enforce: enforceRouting, policy: redirectOnMisroute ? 'redirect' : 'refuse', hops, maxHops });
  }

  get membershipInstance(): Membership | undefined {
    return this.membership;
  }

  // ---- Hocuspocus hooks ----

  async onConfigure({ instance }: { instance: HocuspocusLike }): Promise<void> {
    this.instance = instance;
  }

  async onListen(): Promise<void> {
    await this.joined();
  }

  /** Before authentication and loading: refuse documents another node owns; wait for a handover in progress. */
  async onConnect(payload: DocumentPayload): Promise<void> {
    await this.admit(payload);
  }

  /** Again on load: direct connections (`openDirectConnection`) never pass onConnect. */
  async onLoadDocument(payload: DocumentPayload): Promise<void> {
    await this.admit(payload);
  }

  /** Ownership may have moved while the document was loading. */
  async afterLoadDocument({ documentName }: DocumentPayload): Promise<void> {
    if (this.config.enforceRouting && !this.ownsHere(documentName)) void this.release(documentName);
  }

  /**
   * A document being handed over, or owned elsewhere, accepts no more updates: the connection is closed with the
   * hint. (A connection can finish establishing after its document was handed over; it must not write to it.)
   */
  async beforeHandleMessage({ documentName }: DocumentPayload): Promise<void> {
    if (this.releasing.has(documentName) || (this.config.enforceRouting && !this.ownsHere(documentName)))
      throw new DocumentRefusal(this.refusalReason(documentName, 0));
  }

  /** Hocuspocus unloads a document when its last connection closes; during a handover only our confirmed flush may. */
  async beforeUnloadDocument({ documentName }: DocumentPayload): Promise<void> {
    if (this.releasing.has(documentName) && !this.flushed.has(documentName)) throw new HoldDocument();
  }

  /** Relay mode takes every client socket over (and every node takes signed node links on RELAY_PATH). */
  async onUpgrade({ request, socket, head }: UpgradePayload): Promise<void> {
    const link = request.url !== undefined && new URL(request.url, 'http://localhost').pathname === RELAY_PATH;
    if (!link && (this.config.misroute !== 'relay' || !this.config.enforceRouting)) return;
    this.relay.handleUpgrade(request, socket, head);
    // Hocuspocus's documented way to skip its own upgrade: reject without an error.
    throw null;
  }

  async onRequest({ request, response }: { request: IncomingMessage; response: ServerResponse }): Promise<void> {
    if (await this.monitoring.handle(request, response)) {
      // Hocuspocus's documented way to stop later hooks and its default answer: reject without an error.
      throw null;
    }
  }

  async onDestroy(): Promise<void> {
    await this.leave();
    this.relay.close();
  }

  // ---- routing ----

  private joined(): Promise<Membership> {
    this.starting ??= (async () => {
      const membership = await createMembership(this.config);
      membership.on('ring', (ring) => this.onRing(ring));
      membership.on('message', (message) => this.onMessage(message));
      await membership.start();
      this.membership = membership;
      this.coordinated = !(membership instanceof StaticMembership);
      this.onRing(membership.ring);
      this.debug(`joined: epoch ${membership.ring.epoch}, ${membership.ring.nodes.length} node(s)`);
      return membership;
    })();
    return this.starting;
  }

  private ownsHere(documentName: string): boolean {
    const owner = this.ring?.owner(documentName);
    return owner === undefined || owner.id === this.config.nodeId;
  }

  private async admit(payload: DocumentPayload): Promise<void> {
    this.instance ??= payload.instance;
    const { documentName } = payload;
    const hopsParameter = Number(parameter(payload, HOPS_PARAMETER) ?? 0);
    const hops = Number.isSafeInteger(hopsParameter) && hopsParameter > 0 ? hopsParameter : 0;
    await this.joined();
    if (this.releasing.has(documentName)) throw this.refuse(documentName, hops);
    let waited = false;
    for (;;) {
      const decision = this.decide(documentName, hops);
      if (decision?.action !== 'local') throw this.refuse(documentName, hops, decision); // no ring (left): unavailable
      const mustCheck = this.coordinated && decision.reason === 'owner' && !this.instance?.documents.has(documentName);
      const pending = mustCheck ? this.ledger.pending(documentName) : [];
      if (pending.length === 0) {
        this.counters.admitted++;
        if (waited) this.debug(`${documentName}: released to us, loading`);
        return;
      }
      if (!waited) {
        waited = true;
        this.counters.waitedForRelease++;
        this.debug(`${documentName}: waiting for ${pending.map((p) => p.nodeId).join(', ')} to release it`);
      }
      const now = Date.now();
      this.requestRelease(documentName, pending.map((p) => p.nodeId));
      const nextDeadline = Math.min(...pending.map((p) => p.deadline));
      await this.ledger.changed(Math.min(this.retryInterval, nextDeadline - now));
      if (Date.now() >= nextDeadline && this.ledger.pending(documentName).length < pending.length) {
        this.counters.releaseTimeouts++;
        this.debug(`${documentName}: no release within migrationTimeout, loading anyway`);
      }
    }
  }

  private get retryInterval(): number {
    return Math.max(20, Math.min(500, this.config.migrationTimeout / 10));
  }

  /** Asks previous owners to release a document; repeated at most every retryInterval (messages can be missed). */
  private requestRelease(documentName: string, nodeIds: readonly string[]): void {
    const now = Date.now();
    if ((this.lastRequest.get(documentName) ?? 0) + this.retryInterval > now) return;
    this.lastRequest.set(documentName, now);
    for (const nodeId of nodeIds) void this.broadcast(RELEASE_REQUEST, { documentName, nodeId });
  }

  /** The refusal for a document this node does not serve, counted. */
  private refuse(documentName: string, hops: number, decision = this.decide(documentName, hops)): DocumentRefusal {
    const reason = this.refusalReason(documentName, hops, decision);
    if (reason.startsWith(REDIRECT_PREFIX)) this.counters.redirected++;
    else this.counters.refused++;
    this.debug(`${documentName}: refused (${reason})`);
    return new DocumentRefusal(reason);
  }

  private refusalReason(documentName: string, hops: number, decision = this.decide(documentName, hops)): string {
    const owner = decision?.owner;
    if (!decision || !owner || owner.id === this.config.nodeId || decision.reason === 'max-hops') return UNAVAILABLE_REASON;
    if (!this.config.redirectOnMisroute) return MISROUTED_REASON;
    if (owner.url === undefined) return UNAVAILABLE_REASON;
    return encodeRedirectHint({ documentName, ownerId: owner.id, ownerUrl: owner.url, epoch: decision.epoch, hops: hops + 1 });
  }

  // ---- handover ----

  private onRing(ring: Ring): void {
    this.ledger.observe(ring);
    const stale = Date.now() - this.config.migrationTimeout;
    for (const [documentName, at] of this.lastRequest) if (at < stale) this.lastRequest.delete(documentName);
    const instance = this.instance;
    if (!this.config.enforceRouting || !instance || !this.membership) return;
    for (const documentName of new Set([...instance.documents.keys(), ...instance.loadingDocuments.keys()])) {
      const owner = ring.owner(documentName);
      if (owner && owner.id !== this.config.nodeId) void this.release(documentName);
    }
  }

  private onMessage({ type, data, from }: ClusterMessage): void {
    if (from === undefined) return;
    if (type === RELEASED_ALL) return this.ledger.releasedEverything(from);
    const message = releaseMessage(data);
    if (!message) return;
    if (type === RELEASED) return this.ledger.released(message.documentName, from);
    if (type === RELEASE_REQUEST && message.nodeId === this.config.nodeId) {
      // Still the owner by our ring: the change has not reached us yet; the requester asks again.
      if (this.ownsHere(message.documentName) && this.ring?.owner(message.documentName)) return;
      const held = this.releasing.has(message.documentName) || (this.instance !== undefined && isHeld(this.instance, message.documentName));
      if (held) void this.release(message.documentName);
      else void this.broadcast(RELEASED, { documentName: message.documentName });
    }
  }

  /** Hands a document over: idempotent while in progress. Never rejects (failures are counted and logged). */
  private release(documentName: string): Promise<void> {
    let releasing = this.releasing.get(documentName);
    if (releasing) return releasing;
    releasing = this.handOver(documentName)
      .catch((error: unknown) => {
        this.counters.releaseFailures++;
        console.error(`[SmartRoute ${this.config.nodeId}] could not release ${JSON.stringify(documentName)}; it stays here:`, error);
      })
      .finally(() => {
        this.releasing.delete(documentName);
        this.flushed.delete(documentName);
      });
    this.releasing.set(documentName, releasing);
    return releasing;
  }

  /**
   * The old owner's side: refuse the document (set by `release`), send its clients the hint and close their
   * connections, store until confirmed, unload, then announce the release so the new owner may load it.
   */
  private async handOver(documentName: string): Promise<void> {
    const instance = this.instance!;
    await instance.loadingDocuments.get(documentName)?.catch(() => undefined);
    const document = instance.documents.get(documentName);
    if (document) {
      this.debug(`${documentName}: handing over`);
      await closeConnections(document, { code: 4421, reason: this.refusalReason(documentName, 0) });
      await this.flush(instance, document);
      this.flushed.add(documentName);
      await this.unload(instance, document);
      this.counters.released++;
    }
    await this.broadcast(RELEASED, { documentName });
    this.debug(`${documentName}: released`);
  }

  /** Stores until a store succeeds, retrying with backoff for up to migrationTimeout. */
  private async flush(instance: HocuspocusLike, document: DocumentLike): Promise<void> {
    const deadline = Date.now() + this.config.migrationTimeout;
    for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await storeDocument(instance, document);
      } catch (error) {
        this.counters.storeFailures++;
        if (Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  /** Unloads once nothing holds the document (server-side direct connections may for a while). */
  private async unload(instance: HocuspocusLike, document: DocumentLike): Promise<void> {
    const deadline = Date.now() + this.config.migrationTimeout;
    while (!(await unloadDocument(instance, document))) {
      if (Date.now() > deadline) throw new Error('the document is still in use (direct connections?)');
      await sleep(50);
    }
  }

  private async handOverEverything(): Promise<void> {
    const membership = this.membership;
    if (!membership?.ready) return;
    const { nodeId } = this.config;
    try {
      if (this.config.enforceRouting && membership.ring.node(nodeId)) await membership.update(nodeId, { status: 'leaving' });
      const instance = this.instance;
      if (instance && this.config.enforceRouting)
        await Promise.all([...new Set([...instance.documents.keys(), ...instance.loadingDocuments.keys()])].map((name) => this.release(name)));
      await Promise.all([...this.releasing.values()]);
      await this.broadcast(RELEASED_ALL, {});
    } finally {
      await membership.stop();
      this.debug('left the cluster');
    }
  }

  private async broadcast(type: string, data: unknown): Promise<void> {
    try {
      await this.membership?.broadcast(type, data);
    } catch (error) {
      // Redis down: the waiting node falls back to migrationTimeout.
      this.debug(`broadcast ${type} failed: ${String(error)}`);
    }
  }

  private debug(message: string): void {
    if (this.config.debugMode) console.debug(`[SmartRoute ${this.config.nodeId}] ${message}`);
  }
}
