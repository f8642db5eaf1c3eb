import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { createRouter, type RingRouter } from '@ringroute/ring-core/http';
import type { KeyedState, OwnedStateOptions } from '@ringroute/ring-core/owned';

export interface Cart {
  items: string[];
}

/** One node: a real HTTP server on loopback that takes transfers, a router, and a `carts` state. */
export interface OwnedNode {
  id: string;
  url: string;
  server: Server;
  membership: Membership;
  router: RingRouter;
  carts: KeyedState<Cart>;
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Nodes sharing one in-process membership, each serving the handoff endpoint over HTTP. */
export class OwnedCluster {
  readonly nodes = new Map<string, OwnedNode>();
  readonly bus = new MemoryBus();

  /** `state`: every node's options, or a function of the node's id (e.g. a persist store of its own). */
  constructor(private readonly state: OwnedStateOptions | ((id: string) => OwnedStateOptions) = {}) {}

  async start(id: string, membership?: (url: string) => Membership): Promise<OwnedNode> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const member = membership?.(url) ?? new MemoryMembership({ bus: this.bus, self: { id, url } });
    const state = typeof this.state === 'function' ? this.state(id) : this.state;
    const router = createRouter({ membership: member, key: 'query:key', state });
    server.on('request', (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (router.handoffEndpoint.matches(req.method ?? 'GET', path)) return void router.handoffEndpoint.serve(req, res);
      res.writeHead(404).end();
    });
    const carts = router.owned().state<Cart>('carts');
    await router.start();
    const node = { id, url, server, membership: member, router, carts };
    this.nodes.set(id, node);
    return node;
  }

  /** The node that owns `key` by its own ring. */
  owner(key: string): OwnedNode {
    const any = [...this.nodes.values()][0]!;
    return this.nodes.get(any.membership.ring.owner(key)!.id)!;
  }

  /** Resolves once every node's ring has `count` members and every node handed over what its ring gives away. */
  async settled(count: number): Promise<void> {
    await until(
      () => [...this.nodes.values()].every((n) => n.membership.ring.nodes.length === count && n.router.handoffProgress()?.settled === true),
      `${count} settled nodes`,
    );
  }

  /** Graceful stop: the router hands every key over, leaves, and the server closes. */
  async stop(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    this.nodes.delete(id);
    await node.router.close();
    await new Promise((resolve) => node.server.close(resolve));
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
  }

  /** Total keys held across nodes. */
  held(): number {
    return [...this.nodes.values()].reduce((sum, n) => sum + (n.router.handoffProgress()?.held.carts ?? 0), 0);
  }
}
