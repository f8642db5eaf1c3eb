import { randomUUID } from 'node:crypto';
import {
  checkLogger,
  checkNumber,
  checkString,
  DEFAULT_MAX_HOPS,
  fail,
  HealthChecker,
  type Membership,
  type NodeSpec,
  type RingRouteLogger,
} from '@ringroute/ring-core';
import { defaultLogger } from '../smart-route/log.js';
import { probeHealth } from '../cluster/index.js';

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
const MISROUTES: readonly Misroute[] = ['relay', 'redirect', 'refuse'];

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

const bool = (option: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(option, `must be a boolean (got ${String(value)})`);
  return value;
};

const port = (option: string, value: unknown) => checkNumber(option, value, { min: 1, max: 65_535, integer: true });

function webSocketUrl(option: string, value: unknown): string {
  const url = checkString(option, value);
  if (!URL.canParse(url) || !/^wss?:$/.test(new URL(url).protocol)) fail(option, `must be a ws:// or wss:// URL (got ${JSON.stringify(url)})`);
  return url;
}

/** A node's ring entry: the WebSocket URL is what redirect hints carry; address and port ride along in meta. */
export function nodeSpec(node: { id: string; address: string; port: number; weight?: number; url?: string }): NodeSpec {
  return {
    id: node.id,
    url: node.url ?? `ws://${node.address.includes(':') ? `[${node.address}]` : node.address}:${node.port}`,
    weight: node.weight ?? 1,
    meta: { address: node.address, port: node.port },
  };
}

/** Validates a `{ id, address, port, weight?, url? }` node; errors name `field` (e.g. `clusterNodes[2].port`). */
export function clusterNode(value: unknown, field: string): NodeSpec {
  if (value === null || typeof value !== 'object') fail(field, 'must be an object { id, address, port, weight? }');
  const node = value as Record<string, unknown>;
  return nodeSpec({
    id: checkString(`${field}.id`, node.id),
    address: checkString(`${field}.address`, node.address),
    port: port(`${field}.port`, node.port),
    weight: node.weight === undefined ? 1 : checkNumber(`${field}.weight`, node.weight, { min: 0, max: 1e6 }),
    url: node.url === undefined ? undefined : webSocketUrl(`${field}.url`, node.url),
  });
}

/** ring-core's HealthChecker validates the seed's options (errors name `healthCheck.<field>`) and keeps their defaults. */
function healthCheck(value: unknown): HealthChecker | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') fail('healthCheck', 'must be an object');
  const { interval, timeout, retries, backoffMultiplier, maxBackoff } = value as SmartRouteHealthCheck;
  return new HealthChecker({ interval, timeout, retries, backoffMultiplier, maxBackoff, probe: probeHealth }, 'healthCheck');
}

function misroute(options: SmartRouteOptions): Misroute {
  const legacy = bool('redirectOnMisroute', options.redirectOnMisroute, true);
  if (options.misroute === undefined) return options.redirectOnMisroute === undefined ? 'relay' : legacy ? 'redirect' : 'refuse';
  if (!MISROUTES.includes(options.misroute)) fail('misroute', `must be one of ${MISROUTES.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(options.misroute)})`);
  if (options.redirectOnMisroute !== undefined && (options.misroute === 'redirect') !== legacy)
    fail('misroute', `contradicts redirectOnMisroute: ${String(legacy)}; give only misroute`);
  return options.misroute;
}

function redis(value: unknown): RedisConnection | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!/^rediss?:\/\//.test(value) || !URL.canParse(value)) fail('redis', `must be a redis:// URL, ioredis options or a client (got ${JSON.stringify(value)})`);
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('redis', 'must be a redis:// URL, ioredis options or a client');
  return value as Record<string, unknown>;
}

/** Validates every option at construction; each error names its option. */
export function resolveOptions(options: SmartRouteOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object');
  const nodeId = options.nodeId === undefined ? `node-${randomUUID().slice(0, 8)}` : checkString('nodeId', options.nodeId);
  const nodeAddress = options.nodeAddress === undefined ? '127.0.0.1' : checkString('nodeAddress', options.nodeAddress);
  const nodePort = options.nodePort === undefined ? 80 : port('nodePort', options.nodePort);
  const nodeWeight = options.nodeWeight === undefined ? 1 : checkNumber('nodeWeight', options.nodeWeight, { min: 0, max: 1e6 });
  const nodeUrl = options.nodeUrl === undefined ? undefined : webSocketUrl('nodeUrl', options.nodeUrl);

  if (options.clusterNodes !== undefined && !Array.isArray(options.clusterNodes)) fail('clusterNodes', 'must be an array of { id, address, port, weight? }');
  const clusterNodes = (options.clusterNodes ?? []).map((node, i) => clusterNode(node, `clusterNodes[${i}]`));
  const ids = new Set([nodeId]);
  clusterNodes.forEach((node, i) => {
    if (ids.has(node.id)) fail(`clusterNodes[${i}].id`, `duplicate node id ${JSON.stringify(node.id)}`);
    ids.add(node.id);
  });

  const { membership } = options;
  if (membership !== undefined) {
    if (membership === null || typeof membership !== 'object' || typeof membership.start !== 'function' || typeof membership.broadcast !== 'function')
      fail('membership', 'must be a ring-core Membership');
    if (membership.self?.id !== nodeId) fail('membership', `its self must be this node (${JSON.stringify(nodeId)}), got ${JSON.stringify(membership.self?.id)}`);
    if (options.redis !== undefined) fail('membership', 'give either `membership` or `redis`, not both');
  }
  if (options.customRoutingFunction !== undefined && typeof options.customRoutingFunction !== 'function')
    fail('customRoutingFunction', 'must be a function (documentId, availableNodes) => node | null');
  const secret = options.secret === undefined ? undefined : checkString('secret', options.secret);
  const debugMode = bool('debugMode', options.debugMode, false);
  const adminToken = options.adminToken === undefined ? undefined : checkString('adminToken', options.adminToken);
  if (adminToken !== undefined && adminToken.length < 16) fail('adminToken', 'must be at least 16 characters');
  const enforceRouting = bool('enforceRouting', options.enforceRouting, true);
  const mode = misroute(options);
  const redisConnection = redis(options.redis);
  // Relay links carry clients' tokens and documents: a cluster that relays must sign them.
  if (mode === 'relay' && enforceRouting && secret === undefined && (options.redis !== undefined || membership !== undefined || clusterNodes.length > 0))
    fail('secret', "is required with misroute: 'relay' (the default) in a cluster (redis, clusterNodes or membership): it authenticates the links between nodes; or set misroute: 'redirect' | 'refuse'");

  return {
    nodeId,
    self: nodeSpec({ id: nodeId, address: nodeAddress, port: nodePort, weight: nodeWeight, url: nodeUrl }),
    clusterNodes,
    enforceRouting,
    misroute: mode,
    redirectOnMisroute: mode === 'redirect',
    healthCheck: healthCheck(options.healthCheck),
    syncInterval: options.syncInterval === undefined ? 30_000 : checkNumber('syncInterval', options.syncInterval, { min: 10, max: 3_600_000 }),
    failureTimeout:
      options.failureTimeout === undefined ? 2500 : checkNumber('failureTimeout', options.failureTimeout, { min: 40, max: 3_600_000 }),
    migrationTimeout:
      options.migrationTimeout === undefined ? 60_000 : checkNumber('migrationTimeout', options.migrationTimeout, { min: 0, max: 3_600_000 }),
    maxConcurrentHandovers:
      options.maxConcurrentHandovers === undefined
        ? 16
        : checkNumber('maxConcurrentHandovers', options.maxConcurrentHandovers, { min: 1, max: 100_000, integer: true }),
    leaveOnSignals: bool('leaveOnSignals', options.leaveOnSignals, true),
    logger: checkLogger(options.logger, defaultLogger(nodeId, debugMode)),
    customRoutingFunction: options.customRoutingFunction,
    debugMode,
    redis: redisConnection,
    secret,
    cluster: options.cluster === undefined ? 'hocuspocus' : checkString('cluster', options.cluster),
    membership,
    adminToken,
    maxHops: options.maxHops === undefined ? DEFAULT_MAX_HOPS : checkNumber('maxHops', options.maxHops, { min: 1, max: 100, integer: true }),
  };
}
