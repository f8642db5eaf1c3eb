import type { HealthChecker, Membership, NodeSpec, RingRouteLogger } from '@ringroute/ring-core';

/** A cluster node as the SmartRoute seed describes it. */
export interface ClusterNode {
  id: string;
  /** Host name or IP the node's Hocuspocus server listens on. */
  address: string;
  port: number;
  /** Relative capacity. Default 1. */
  weight?: number;
  /** The node's public WebSocket URL when it is not `ws://address:port` (e.g. `wss://` behind TLS). */
  url?: string;
}

/** A node as `customRoutingFunction` sees it: the seed's fields plus the node's URL and status. */
export interface AvailableNode extends ClusterNode {
  weight: number;
  url: string;
  status: string;
}

/** Return a node (or its id) to own the document, or null/undefined to use consistent hashing. */
export type CustomRoutingFunction = (
  documentId: string,
  availableNodes: readonly AvailableNode[],
) => AvailableNode | string | null | undefined;

/** The seed's health checks: probes `GET /health` of every other node. */
export interface SmartRouteHealthCheck {
  /** ms between probes of a healthy node. Default 5000. */
  interval?: number;
  /** ms before a probe counts as failed. Default 3000. */
  timeout?: number;
  /** Failed probes after the first before a node is declared dead. Default 3. */
  retries?: number;
  /** Each consecutive failure multiplies the delay before the next probe by this. Default 2. */
  backoffMultiplier?: number;
  /** Cap on that delay (ms). Default 30000. */
  maxBackoff?: number;
}

/** Anything `new Redis(...)` (ioredis) accepts, or a client. Shape-checked only; ioredis validates the rest. */
export type RedisConnection = string | Record<string, unknown>;

export interface SmartRouteOptions {
  /** Unique, stable id of this node. Default: a random id (fine for one node; give StatefulSet names in clusters). */
  nodeId?: string;
  /** This node's address, as the other nodes and clients reach it. Default '127.0.0.1'. */
  nodeAddress?: string;
  /** This node's port. Default 80. */
  nodePort?: number;
  /** This node's public WebSocket URL when it is not `ws://nodeAddress:nodePort`. */
  nodeUrl?: string;
  /** Relative capacity. Default 1. */
  nodeWeight?: number;
  /** The other nodes of a static cluster (no Redis). With Redis they are added to the shared ring at start. */
  clusterNodes?: readonly ClusterNode[];
  /** Refuse documents another node owns. false = single-node mode: everything is served here. Default true. */
  enforceRouting?: boolean;
  /**
   * What a node does with a document another node owns. `'relay'` (default): it keeps the client's socket and
   * forwards the document's frames to the owner over one signed WebSocket per owner node (needs `secret` in a
   * cluster). `'redirect'`: it refuses with a redirect hint (owner URL, epoch) for the client helper.
   * `'refuse'`: it refuses without a hint.
   */
  misroute?: Misroute;
  /** `true` means `misroute: 'redirect'`, `false` means `'refuse'` (the seed's option). */
  redirectOnMisroute?: boolean;
  /** Probe the other nodes (static clusters). Omit for no health checks. */
  healthCheck?: SmartRouteHealthCheck;
  /** Period of the full check that the ring is in sync with Redis (heals missed messages), ms. Default 30000. */
  syncInterval?: number;
  /**
   * A node silent this long (no heartbeat; heartbeats go out every failureTimeout / 4) is suspected; twice as long,
   * declared dead and removed, and its documents are served by their new owners at once, ms. Default 2500.
   */
  failureTimeout?: number;
  /** How long a new owner waits for a live old owner to hand a document over before loading it anyway, ms. Default 60000. */
  migrationTimeout?: number;
  /** How many documents this node hands over at once (the others are served here until their turn). Default 16. */
  maxConcurrentHandovers?: number;
  /** Leave the cluster gracefully (hand every document over) on SIGINT and SIGTERM. Default true. */
  leaveOnSignals?: boolean;
  /** Where to log (pino, console, ...: `logger.warn(details, message)`). Default: warnings as Node process warnings. */
  logger?: RingRouteLogger;
  customRoutingFunction?: CustomRoutingFunction;
  /** Log routing decisions and handovers (at debug level; to stderr when no `logger` is given). Default false. */
  debugMode?: boolean;
  /** Redis for cluster membership, pins and handover announcements: a URL, ioredis options, or an ioredis client. */
  redis?: RedisConnection;
  /** The cluster secret: signs membership messages (Redis) and authenticates relay links between nodes. */
  secret?: string;
  /** Cluster name in Redis: nodes with the same name share one ring. Default 'hocuspocus'. */
  cluster?: string;
  /** Any ring-core Membership (instead of `redis` / `clusterNodes`); its `self` must be this node. */
  membership?: Membership;
  /** Bearer token for `POST /api/routes/migrate` and the admin routes. Without it they answer 403. */
  adminToken?: string;
  /** A client that has followed this many redirects is refused instead of redirected again. Default 3. */
  maxHops?: number;
}

export type Misroute = 'relay' | 'redirect' | 'refuse';

export interface ResolvedOptions {
  nodeId: string;
  self: NodeSpec;
  clusterNodes: NodeSpec[];
  enforceRouting: boolean;
  misroute: Misroute;
  /** misroute === 'redirect' */
  redirectOnMisroute: boolean;
  healthCheck: HealthChecker | undefined;
  syncInterval: number;
  failureTimeout: number;
  migrationTimeout: number;
  maxConcurrentHandovers: number;
  leaveOnSignals: boolean;
  logger: RingRouteLogger;
  customRoutingFunction: CustomRoutingFunction | undefined;
  debugMode: boolean;
  redis: RedisConnection | undefined;
  secret: string | undefined;
  cluster: string;
  membership: Membership | undefined;
  adminToken: string | undefined;
  maxHops: number;
}
