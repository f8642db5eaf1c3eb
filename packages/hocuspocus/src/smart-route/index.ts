import type { IncomingMessage, ServerResponse } from 'node:http';
import { StaticMembership, type Membership, type Ring, type RoutingDecision } from '@ringroute/ring-core';
import type { HandoverProgress } from '../handover/sender.js';
import type { DocumentPayload, HocuspocusLike } from '../hocuspocus/index.js';
import { Monitoring } from '../monitoring/index.js';
import type { Relay } from '../relay/index.js';
import { clusterNode, resolveOptions, type ClusterNode, type ResolvedOptions, type SmartRouteOptions } from '../options/index.js';
import { newCounters, type SmartRouteCounters } from './counters.js';
import { HoldDocument } from './refusal.js';
import { broadcast, joinCluster, leaveCluster } from './membership.js';
import { checkMessage, checkStore, createParts, takeUpgrade, type Host, type Parts, type UpgradePayload } from './parts.js';
import { onLeaveSignals } from './signals.js';

export { DocumentRefusal } from './refusal.js';
export type { SmartRouteCounters } from './counters.js';
export type { HandoverProgress } from '../handover/sender.js';

/**
 * SmartRoute: consistent-hash document routing for a Hocuspocus cluster. Each document has one owner node;
 * other nodes refuse it (with a redirect hint when `redirectOnMisroute` is on), and when ownership moves the
 * old owner hands the document over (stores, unloads, announces) before the new owner loads it.
 *
 * ```ts
 * new Server({ extensions: [new SmartRoute({ nodeId: 'node-1', nodePort: 8000, redis: 'redis://127.0.0.1:6379', redirectOnMisroute: true }), new Database({...})] })
 * ```
 */
export class SmartRoute {
  /** Runs before persistence and auth extensions: a refused document is never authenticated or loaded. */
  readonly priority = 1000;
  readonly extensionName = 'SmartRoute';
  readonly counters: SmartRouteCounters = newCounters();
  private readonly config: ResolvedOptions;
  private readonly host: Host;
  private readonly parts: Parts;
  private readonly monitoring: Monitoring;
  /** Relay mode's client sockets and node links (`misroute: 'relay'`); `relay.handleUpgrade` for apps without Server. */
  readonly relay: Relay;
  private instance: HocuspocusLike | undefined;
  private membership: Membership | undefined;
  /** The membership being started (it may wait for its store), until it joined. */
  private joining: Membership | undefined;
  /** A static membership is local to each process: nobody could announce a handover, so a new owner loads at once. */
  private coordinated = false;
  private starting: Promise<Membership> | undefined;
  private leaving: Promise<void> | undefined;
  private stopSignals: (() => void) | undefined;

  constructor(options: SmartRouteOptions = {}) {
    this.config = resolveOptions(options);
    this.host = {
      config: this.config,
      counters: this.counters,
      ring: () => this.ring,
      instance: () => this.instance,
      membership: () => this.membership,
      coordinated: () => this.coordinated,
      leaving: () => this.leaving !== undefined,
      broadcast: (type, data) => broadcast(this.membership, type, data, (message) => this.debug(message)),
      debug: (message) => this.debug(message),
    };
    this.parts = createParts(this.host);
    this.monitoring = new Monitoring(this, this.config);
    this.relay = this.parts.relay;
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

  /** The membership once created; until it has joined, its `waiting` says what it waits for. */
  get membershipInstance(): Membership | undefined {
    return this.membership ?? this.joining;
  }

  /** Handovers this node is doing or did: pending, moving, done, failed. */
  get handovers(): HandoverProgress {
    return this.parts.sender.progress();
  }

  /** Joins the cluster. Runs on `onListen`; call it yourself when Hocuspocus runs without `Server.listen()`. */
  async start(): Promise<void> {
    await this.joined();
  }

  /**
   * Leaves the cluster gracefully: marks this node leaving (its documents move), hands every loaded document
   * over (clients get redirect hints, stores are flushed and confirmed), announces it, then stops the
   * membership. SIGINT and SIGTERM call it (unless `leaveOnSignals: false`), and so does onDestroy.
   */
  leave(): Promise<void> {
    this.leaving ??= this.handOverEverything();
    return this.leaving;
  }

  /** Adds a node to the ring (shared with every node when the membership is Redis). */
  async addClusterNode(node: ClusterNode): Promise<void> {
    await (await this.joined()).add(clusterNode(node, 'node'));
  }

  /** Removes a node from the ring; its documents move to their new owners. */
  async removeClusterNode(id: string): Promise<void> {
    await (await this.joined()).remove(id);
  }

  /** Pins a document to a node for the whole cluster (null unpins); the current owner hands it over. */
  async pin(documentName: string, nodeId: string | null): Promise<void> {
    await (await this.joined()).pin(documentName, nodeId);
  }

  /** Resolves when this node is not handing the document over (any handover in progress finished). */
  async settled(documentName: string): Promise<void> {
    await this.parts.sender.settled(documentName);
  }

  /**
   * Resolves true once `nodeId` has handed the document over (its store included), or false after
   * migrationTimeout. For this node it waits for its own handover.
   */
  async handedOver(documentName: string, nodeId: string): Promise<boolean> {
    if (nodeId === this.config.nodeId) {
      await this.settled(documentName);
      return !this.instance?.documents.has(documentName) || !this.parts.admission.ownsHere(documentName);
    }
    return this.parts.admission.waitForHandover(documentName, nodeId);
  }

  /** The routing decision for a document on this node. */
  decide(documentName: string, hops = 0): RoutingDecision | undefined {
    return this.parts.admission.decide(documentName, hops);
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
    await this.admitted(payload);
  }

  /** Again on load: direct connections (`openDirectConnection`) never pass onConnect. */
  async onLoadDocument(payload: DocumentPayload): Promise<void> {
    await this.admitted(payload);
  }

  /** Ownership may have moved while the document was loading. */
  async afterLoadDocument({ documentName, document }: DocumentPayload): Promise<void> {
    if (document) this.parts.fence.loaded(document);
    if (this.config.enforceRouting && !this.parts.admission.ownsHere(documentName)) void this.parts.sender.handOver(documentName, true);
  }

  /** A document moving, owned elsewhere (and not queued to move) or stale takes no more updates: closed with the hint. */
  async beforeHandleMessage({ documentName }: DocumentPayload): Promise<void> {
    await checkMessage(this.parts, this.host, documentName);
  }

  /** Fencing: only the owner stores (or the old owner during its handover), and never a stale copy. */
  async onStoreDocument({ documentName, document }: DocumentPayload): Promise<void> {
    await checkStore(this.parts, this.host, documentName, document);
  }

  async afterStoreDocument({ documentName }: DocumentPayload): Promise<void> {
    this.parts.fence.storeSucceeded(documentName);
  }

  async afterUnloadDocument({ documentName }: DocumentPayload): Promise<void> {
    this.parts.fence.unloaded(documentName);
  }

  /** Hocuspocus unloads a document when its last connection closes; during a handover only our confirmed flush may. */
  async beforeUnloadDocument({ documentName }: DocumentPayload): Promise<void> {
    if (!this.parts.sender.mayUnload(documentName)) throw new HoldDocument();
  }

  /** Relay mode takes every client socket over (and every node takes signed node links on RELAY_PATH). */
  async onUpgrade(payload: UpgradePayload): Promise<void> {
    // Hocuspocus's documented way to skip its own upgrade: reject without an error.
    if (takeUpgrade(this.parts, this.host, payload)) throw null;
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

  // ---- cluster ----

  private async admitted(payload: DocumentPayload): Promise<void> {
    this.instance ??= payload.instance;
    await this.joined();
    await this.parts.fence.confirm();
    await this.parts.fence.recovered(payload.documentName); // a stale copy is shipped and unloaded first
    await this.parts.admission.admit(payload);
  }

  private joined(): Promise<Membership> {
    this.starting ??= joinCluster(
      this.parts,
      this.host,
      (membership) => {
        this.membership = membership;
        this.coordinated = !(membership instanceof StaticMembership);
        if (this.config.leaveOnSignals) this.stopSignals = onLeaveSignals(() => this.leave());
      },
      (membership) => (this.joining = membership),
    );
    return this.starting;
  }

  private async handOverEverything(): Promise<void> {
    this.stopSignals?.();
    if (this.membership?.ready) await leaveCluster(this.membership, this.parts, this.host);
    else await this.joining?.stop(); // still waiting for its store: it gives up at once
  }

  private debug(message: string): void {
    if (this.config.debugMode) this.config.logger.debug({ node: this.config.nodeId }, message);
  }
}
