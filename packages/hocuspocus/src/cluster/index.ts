import { httpProbe, StaticMembership, type Membership, type Probe, type RingNode, type RoutingFunction } from '@ringroute/ring-core';
import type { AvailableNode, CustomRoutingFunction, ResolvedOptions } from '../options/index.js';

/** The seed's view of a ring node, for customRoutingFunction. */
function availableNode(node: RingNode): AvailableNode {
  const url = new URL(node.url!);
  const meta = node.meta ?? {};
  return {
    id: node.id,
    address: typeof meta.address === 'string' ? meta.address : url.hostname,
    port: typeof meta.port === 'number' ? meta.port : Number(url.port),
    weight: node.weight,
    url: node.url!,
    status: node.status,
  };
}

/** Adapts the seed's customRoutingFunction(documentId, availableNodes) to a ring-core routing function. */
export function routingFunction(custom: CustomRoutingFunction | undefined): RoutingFunction | undefined {
  if (!custom) return undefined;
  return (key, nodes) => {
    const available = nodes.filter((n) => n.url !== undefined && (n.status === 'alive' || n.status === 'suspected')).map(availableNode);
    const chosen = custom(key, available);
    return chosen == null ? undefined : typeof chosen === 'string' ? chosen : chosen.id;
  };
}

/** Node URLs are WebSocket URLs; Hocuspocus answers HTTP on the same port, so probe `GET /health` over http(s). */
export const probeHealth: Probe = (node, signal) => {
  const url = node.url?.replace(/^ws/, 'http');
  return httpProbe('/health')({ ...node, url }, signal);
};

/**
 * The membership a SmartRoute runs on: the one given, a Redis membership (nodes join themselves; pins and
 * handover announcements are shared), or a static list (single node, or a fixed cluster without Redis).
 */
export async function createMembership(options: ResolvedOptions): Promise<Membership> {
  if (options.membership) return options.membership;
  const route = routingFunction(options.customRoutingFunction);
  if (options.redis !== undefined) {
    // Loaded on demand so that single-node and static setups never need ioredis.
    const { RedisMembership } = await import('@ringroute/ring-core/redis');
    return new RedisMembership({
      redis: options.redis as ConstructorParameters<typeof RedisMembership>[0]['redis'],
      cluster: options.cluster,
      self: options.self,
      secret: options.secret,
      syncInterval: options.syncInterval,
      // Heartbeats at a fraction of the timeout: a dead node is removed about 2 x failureTimeout after its last one.
      heartbeatInterval: Math.max(10, Math.floor(options.failureTimeout / 4)),
      failureTimeout: options.failureTimeout,
      route,
    });
  }
  return new StaticMembership({
    nodes: options.clusterNodes,
    self: options.self,
    route,
    healthCheck: options.healthCheck,
  });
}
