import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Membership, NodeSpec } from '@ringroute/ring-core';
import { ringRoute, type RingRouteMiddleware, type RingRouteOptions } from '@ringroute/express';
import type { ExpressFactory } from './express-versions.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A server listening on a free loopback port, whose request handler is attached once the app exists. */
export async function listen(): Promise<{ server: Server; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

export interface TestNode {
  id: string;
  url: string;
  server: Server;
  rr: RingRouteMiddleware;
}

export interface ClusterOptions {
  express: ExpressFactory;
  ids: readonly string[];
  /** Builds each node's membership from its spec (id + url). */
  membership: (self: NodeSpec, specs: readonly NodeSpec[]) => Membership;
  /** Extra middleware options (key defaults to 'query:key'). */
  options?: Partial<RingRouteOptions>;
  /** Builds each node's app; default `nodeApp`. */
  app?: typeof nodeApp;
}

export interface Cluster {
  nodes: TestNode[];
  node(id: string): TestNode;
  /** The node that owns a key according to the first node's ring. */
  ownerOf(key: string): TestNode;
  /** A key the ring gives to `id`. */
  keyOwnedBy(id: string): string;
  stop(): Promise<void>;
}

/**
 * N real Express servers on loopback sharing a membership. Every app mounts the monitoring routes, the
 * middleware, and a handler that says which node served the request (header `x-node` and JSON body); POST /echo
 * streams the request body back as it arrives.
 */
export async function startCluster({ express, ids, membership, options = {}, app = nodeApp }: ClusterOptions): Promise<Cluster> {
  const listening = await Promise.all(ids.map(() => listen()));
  const specs: NodeSpec[] = ids.map((id, i) => ({ id, url: listening[i]!.url }));
  const nodes: TestNode[] = specs.map((spec, i) => {
    const { server, url } = listening[i]!;
    const rr = ringRoute({ membership: membership(spec, specs), self: spec.id, key: 'query:key', ...options });
    server.on('request', app(express, spec.id, rr));
    return { id: spec.id, url, server, rr };
  });
  const stop = async () => {
    await Promise.all(nodes.map((n) => closeServer(n.server)));
    await Promise.all(nodes.map((n) => n.rr.close()));
  };
  try {
    await Promise.all(nodes.map((n) => n.rr.ready()));
    await until(() => nodes.every((n) => ids.every((id) => n.rr.ring?.node(id)?.status === 'alive')));
  } catch (error) {
    await stop();
    throw error;
  }
  const node = (id: string) => nodes.find((n) => n.id === id)!;
  return {
    nodes,
    node,
    ownerOf: (key) => node(nodes[0]!.rr.ring!.owner(key)!.id),
    keyOwnedBy: (id) => keyOwnedBy(nodes[0]!.rr, id),
    stop,
  };
}

export function nodeApp(express: ExpressFactory, id: string, rr: RingRouteMiddleware): ReturnType<ExpressFactory> {
  const app = express();
  app.use(rr.monitor());
  app.use(rr);
  app.post('/echo', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-node': id });
    res.flushHeaders();
    req.pipe(res);
  });
  app.use((req, res) => {
    res.set('x-node', id).json({
      node: id,
      method: req.method,
      url: req.originalUrl,
      query: req.query,
      route: req.ringRoute && {
        key: req.ringRoute.key,
        owner: req.ringRoute.owner?.id,
        epoch: req.ringRoute.epoch,
        reason: req.ringRoute.decision.reason,
      },
      headers: req.headers,
    });
  });
  return app;
}

export function keyOwnedBy(rr: RingRouteMiddleware, id: string): string {
  for (let i = 0; ; i++) if (rr.ring!.owner(`key-${i}`)?.id === id) return `key-${i}`;
}

/** Polls a condition (membership convergence is asynchronous); fails with `what` after `timeout` ms. */
export async function until(condition: () => boolean, what = 'condition', timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
