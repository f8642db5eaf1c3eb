import { randomUUID } from 'node:crypto';
import {
  checkKnownOptions,
  checkLogger,
  checkNumber,
  checkString,
  DEFAULT_MAX_HOPS,
  fail,
  HealthChecker,
  type NodeSpec,
} from '@ringroute/ring-core';
import { defaultLogger } from '../smart-route/log.js';
import { probeHealth } from '../cluster/index.js';
import type { ClusterNode, Misroute, RedisConnection, ResolvedOptions, SmartRouteHealthCheck, SmartRouteOptions } from './types.js';

export type {
  ClusterNode,
  AvailableNode,
  CustomRoutingFunction,
  SmartRouteHealthCheck,
  RedisConnection,
  SmartRouteOptions,
  Misroute,
  ResolvedOptions,
} from './types.js';

const MISROUTES: readonly Misroute[] = ['relay', 'redirect', 'refuse'];

// Every option name, checked against the types at compile time: unknown options are refused with a suggestion.
const OPTIONS = Object.keys({
  nodeId: 1,
  nodeAddress: 1,
  nodePort: 1,
  nodeUrl: 1,
  nodeWeight: 1,
  clusterNodes: 1,
  enforceRouting: 1,
  misroute: 1,
  redirectOnMisroute: 1,
  healthCheck: 1,
  syncInterval: 1,
  failureTimeout: 1,
  migrationTimeout: 1,
  maxConcurrentHandovers: 1,
  leaveOnSignals: 1,
  logger: 1,
  customRoutingFunction: 1,
  debugMode: 1,
  redis: 1,
  secret: 1,
  cluster: 1,
  membership: 1,
  adminToken: 1,
  maxHops: 1,
} satisfies Record<keyof SmartRouteOptions, 1>);
const HEALTH_CHECK_OPTIONS = Object.keys({ interval: 1, timeout: 1, retries: 1, backoffMultiplier: 1, maxBackoff: 1 } satisfies Record<
  keyof SmartRouteHealthCheck,
  1
>);
const CLUSTER_NODE_FIELDS = Object.keys({ id: 1, address: 1, port: 1, weight: 1, url: 1 } satisfies Record<keyof ClusterNode, 1>);

const bool = (option: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(option, `must be a boolean (got ${String(value)})`);
  return value;
};

const port = (option: string, value: unknown) => checkNumber(option, value, { min: 1, max: 65_535, integer: true });

function webSocketUrl(option: string, value: unknown): string {
  const url = checkString(option, value);
  if (!URL.canParse(url) || !/^wss?:$/.test(new URL(url).protocol))
    fail(option, `must be a ws:// or wss:// URL (got ${JSON.stringify(url)})`);
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
  checkKnownOptions(value, CLUSTER_NODE_FIELDS, field);
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
  checkKnownOptions(value, HEALTH_CHECK_OPTIONS, 'healthCheck');
  const { interval, timeout, retries, backoffMultiplier, maxBackoff } = value as SmartRouteHealthCheck;
  return new HealthChecker({ interval, timeout, retries, backoffMultiplier, maxBackoff, probe: probeHealth }, 'healthCheck');
}

function misroute(options: SmartRouteOptions): Misroute {
  const legacy = bool('redirectOnMisroute', options.redirectOnMisroute, true);
  if (options.misroute === undefined) return options.redirectOnMisroute === undefined ? 'relay' : legacy ? 'redirect' : 'refuse';
  if (!MISROUTES.includes(options.misroute))
    fail('misroute', `must be one of ${MISROUTES.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(options.misroute)})`);
  if (options.redirectOnMisroute !== undefined && (options.misroute === 'redirect') !== legacy)
    fail('misroute', `contradicts redirectOnMisroute: ${String(legacy)}; give only misroute`);
  return options.misroute;
}

function redis(value: unknown): RedisConnection | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!/^rediss?:\/\//.test(value) || !URL.canParse(value))
      fail('redis', `must be a redis:// URL, ioredis options or a client (got ${JSON.stringify(value)})`);
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    fail('redis', 'must be a redis:// URL, ioredis options or a client');
  return value as Record<string, unknown>;
}

/** Validates every option at construction; each error names its option. */
export function resolveOptions(options: SmartRouteOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object');
  checkKnownOptions(options, OPTIONS);
  const nodeId = options.nodeId === undefined ? `node-${randomUUID().slice(0, 8)}` : checkString('nodeId', options.nodeId);
  const nodeAddress = options.nodeAddress === undefined ? '127.0.0.1' : checkString('nodeAddress', options.nodeAddress);
  const nodePort = options.nodePort === undefined ? 80 : port('nodePort', options.nodePort);
  const nodeWeight = options.nodeWeight === undefined ? 1 : checkNumber('nodeWeight', options.nodeWeight, { min: 0, max: 1e6 });
  const nodeUrl = options.nodeUrl === undefined ? undefined : webSocketUrl('nodeUrl', options.nodeUrl);

  if (options.clusterNodes !== undefined && !Array.isArray(options.clusterNodes))
    fail('clusterNodes', 'must be an array of { id, address, port, weight? }');
  const clusterNodes = (options.clusterNodes ?? []).map((node, i) => clusterNode(node, `clusterNodes[${i}]`));
  const ids = new Set([nodeId]);
  clusterNodes.forEach((node, i) => {
    if (ids.has(node.id)) fail(`clusterNodes[${i}].id`, `duplicate node id ${JSON.stringify(node.id)}`);
    ids.add(node.id);
  });

  const { membership } = options;
  if (membership !== undefined) {
    if (
      membership === null ||
      typeof membership !== 'object' ||
      typeof membership.start !== 'function' ||
      typeof membership.broadcast !== 'function'
    )
      fail('membership', 'must be a ring-core Membership');
    if (membership.self?.id !== nodeId)
      fail('membership', `its self must be this node (${JSON.stringify(nodeId)}), got ${JSON.stringify(membership.self?.id)}`);
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
  if (
    mode === 'relay' &&
    enforceRouting &&
    secret === undefined &&
    (options.redis !== undefined || membership !== undefined || clusterNodes.length > 0)
  )
    fail(
      'secret',
      "is required with misroute: 'relay' (the default) in a cluster (redis, clusterNodes or membership): it authenticates the links between nodes; or set misroute: 'redirect' | 'refuse'",
    );

  return {
    nodeId,
    self: nodeSpec({ id: nodeId, address: nodeAddress, port: nodePort, weight: nodeWeight, url: nodeUrl }),
    clusterNodes,
    enforceRouting,
    misroute: mode,
    redirectOnMisroute: mode === 'redirect',
    healthCheck: healthCheck(options.healthCheck),
    syncInterval:
      options.syncInterval === undefined ? 30_000 : checkNumber('syncInterval', options.syncInterval, { min: 10, max: 3_600_000 }),
    failureTimeout:
      options.failureTimeout === undefined ? 2500 : checkNumber('failureTimeout', options.failureTimeout, { min: 40, max: 3_600_000 }),
    migrationTimeout:
      options.migrationTimeout === undefined
        ? 60_000
        : checkNumber('migrationTimeout', options.migrationTimeout, { min: 0, max: 3_600_000 }),
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
    maxHops:
      options.maxHops === undefined ? DEFAULT_MAX_HOPS : checkNumber('maxHops', options.maxHops, { min: 1, max: 100, integer: true }),
  };
}
