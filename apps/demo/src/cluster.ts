import { freePort } from '@ringroute/example-kit';
import {
  HealthChecker,
  MemoryBus,
  MemoryMembership,
  type Membership,
  type MisroutePolicy,
  type NodeSpec,
  type ProbeVerdict,
  type Ring,
  type RingNode,
} from '@ringroute/ring-core';
import { nodeUrl, startDemoNode, type DemoNode } from './node.js';

export interface ClusterOptions {
  host: string;
  /** Port of the first node; the others follow. 0 = free ports chosen by the system (tests). */
  basePort: number;
  misroute: MisroutePolicy;
  /** Use RedisMembership on this Redis instead of the in-process bus. */
  redisUrl: string | undefined;
  /** Cluster name in Redis. Default 'ringroute-demo'. */
  redisCluster?: string;
}

/** One node's membership, plus a way to make it vanish the way a crashed process does. */
interface Member {
  membership: Membership;
  /** Goes silent without leaving: no goodbye, no more heartbeats. */
  crash(): void;
  /** Releases what the member holds besides the membership (its Redis connection). */
  release(): Promise<void>;
}

/** How members of the demo cluster find each other: one in-process bus, or Redis. */
interface MembershipFactory {
  readonly kind: 'memory' | 'redis';
  member(self: NodeSpec): Member;
  /** Follows the ring without joining it (the dashboard's view). */
  observer(): Membership;
}

type BusConnection = ReturnType<MemoryBus['connect']>;

/**
 * One member's line to the shared in-process bus. A MemoryBus never loses a member (one process cannot crash
 * halfway), so the demo cuts this line to play a crash: the member hears nothing more and sees its backend as
 * unreachable, which (as for a Redis member cut off from Redis) stops it from refuting the others' verdicts or
 * leaving on stop(). Only the demo needs this; it is not part of ring-core.
 */
class CuttableLine extends MemoryBus {
  private connection: { hooks: Parameters<BusConnection['open']>[0] } | undefined;
  private isCut = false;

  constructor(private readonly shared: MemoryBus) {
    super();
  }

  override connect(): BusConnection {
    const backend = this.shared.connect();
    const down = () => Promise.reject(new Error('crashed'));
    return {
      ...backend,
      open: (hooks) => {
        this.connection = { hooks };
        return backend.open({ ...hooks, message: (message) => (this.isCut ? undefined : hooks.message(message)) });
      },
      commit: (...args) => (this.isCut ? down() : backend.commit(...args)),
      publish: (...args) => (this.isCut ? down() : backend.publish(...args)),
    };
  }

  cut(): void {
    this.isCut = true;
    this.connection?.hooks.degraded(new Error('crashed'));
  }
}

function memoryFactory(): MembershipFactory {
  const bus = new MemoryBus();
  return {
    kind: 'memory',
    // A bus member sends no heartbeats: once it is cut off, the dashboard's health checks find the crash.
    member: (self) => {
      const line = new CuttableLine(bus);
      return { membership: new MemoryMembership({ bus: line, self }), crash: () => line.cut(), release: async () => {} };
    },
    observer: () => new MemoryMembership({ bus }),
  };
}

async function redisFactory(url: string, cluster: string): Promise<MembershipFactory> {
  // Loaded only when asked for: the embedded default needs neither Redis nor ioredis.
  const [{ RedisMembership }, { Redis }] = await Promise.all([import('@ringroute/ring-core/redis'), import('ioredis')]);
  const common = { cluster, syncInterval: 500, failureTimeout: 1500 };
  return {
    kind: 'redis',
    member: (self) => {
      // Our own client, so that a crash can cut it: heartbeats stop and the others declare the node failed. It
      // reconnects as quickly as the clients RedisMembership makes (a quarter heartbeat at most); its errors are the
      // membership's to report (why it waits, or that it is degraded).
      const client = new Redis(url, { lazyConnect: true, retryStrategy: (times) => Math.min(times * 50, common.syncInterval / 4) });
      client.on('error', () => {});
      return {
        membership: new RedisMembership({ ...common, redis: client, self }),
        crash: () => client.disconnect(),
        release: async () => client.disconnect(),
      };
    },
    observer: () => new RedisMembership({ ...common, redis: url }),
  };
}

/**
 * The demo's nodes, all in this process, plus an observer membership that the dashboard reads the ring from.
 * Every operation goes through the membership, exactly as an operator's tooling would.
 */
export class DemoCluster {
  readonly nodes = new Map<string, DemoNode>();
  /** Nodes that were killed (their server is gone, the ring still lists them until failure detection notices). */
  readonly killed = new Map<string, { port: number }>();
  private readonly members = new Map<string, Member>();
  /** Memberships of killed nodes, cut off from the others; released when the demo ends. */
  private readonly crashed: Member[] = [];
  private factory!: MembershipFactory;
  private observerMembership!: Membership;
  private nextIndex = 1;
  /** Probes every member's /health (in-process bus only: Redis members detect crashes by missing heartbeats). */
  private health: HealthChecker | undefined;
  private readonly syncHealth = (ring: Ring) => this.health?.sync(ring.nodes);
  /** Nodes that joined but may not listen yet: a failed probe says nothing about them. */
  private readonly launching = new Set<string>();
  private closed = false;

  constructor(private readonly options: ClusterOptions) {}

  get observer(): Membership {
    return this.observerMembership;
  }

  get membershipKind(): 'memory' | 'redis' {
    return this.factory.kind;
  }

  get policy(): MisroutePolicy {
    return this.options.misroute;
  }

  /**
   * Starts `count` nodes and the observer. The nodes listen at once and join in the background: while the store is
   * away (Redis not answering yet) their `/ready` says what they wait for, and so does `onWaiting`. Resolves once
   * every node is in the ring; rejects if close() was called meanwhile.
   */
  async start(count: number, onWaiting?: (reason: string) => void): Promise<void> {
    const { redisUrl, redisCluster = 'ringroute-demo' } = this.options;
    this.factory = redisUrl ? await redisFactory(redisUrl, redisCluster) : memoryFactory();
    this.observerMembership = this.factory.observer();
    if (onWaiting) this.observerMembership.on('waiting', onWaiting);
    const observing = this.observerMembership.start();
    observing.catch(() => {}); // awaited below, after the nodes listen
    const ids: string[] = [];
    for (let i = 0; i < count && !this.closed; i++) ids.push((await this.listen(`node-${this.nextIndex}`, await this.nextPort())).id);
    await observing;
    for (const id of ids) await this.waitFor(() => this.observer.ring.node(id)?.status === 'alive');
    if (this.closed) throw new Error('the demo was stopped while it started');
    if (this.factory.kind === 'memory') {
      this.health = new HealthChecker({ interval: 500, timeout: 300, retries: 1, backoffMultiplier: 1, maxBackoff: 500 });
      this.health.start((node, verdict) => void this.applyVerdict(node, verdict));
      this.observer.on('ring', this.syncHealth);
      this.syncHealth(this.observer.ring);
    }
  }

  async addNode(): Promise<DemoNode> {
    return this.launch(`node-${this.nextIndex}`, await this.nextPort());
  }

  private async nextPort(): Promise<number> {
    const index = this.nextIndex++;
    return this.options.basePort === 0 ? await freePort(this.options.host) : this.options.basePort + index - 1;
  }

  private async launch(id: string, port: number): Promise<DemoNode> {
    this.launching.add(id);
    try {
      const node = await this.listen(id, port);
      await this.waitFor(() => this.observer.ring.node(id)?.status === 'alive');
      return node;
    } finally {
      this.launching.delete(id);
    }
  }

  /** Starts a node's server; its membership joins in the background. */
  private async listen(id: string, port: number): Promise<DemoNode> {
    const member = this.factory.member({ id, url: nodeUrl(this.options.host, port) });
    const node = await startDemoNode({ id, host: this.options.host, port, membership: member.membership, misroute: this.options.misroute });
    if (this.closed) {
      // close() ran while this node started: it is this start's to stop.
      await node.stop();
      await member.release();
      throw new Error('the demo was stopped while it started');
    }
    this.nodes.set(id, node);
    this.members.set(id, member);
    return node;
  }

  /** Weight 0: the node keeps running but owns no keys, so its keys move to the others. */
  async drain(id: string): Promise<void> {
    await this.observer.update(id, { weight: 0 });
  }

  /** Weight 1 again: the drained node takes its keys back. */
  async undrain(id: string): Promise<void> {
    await this.observer.update(id, { weight: 1 });
  }

  /** Graceful leave for a running node; for a killed one, the operator removes it from the ring. */
  async remove(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (node) {
      this.nodes.delete(id);
      await node.stop();
      await this.members.get(id)?.release();
      this.members.delete(id);
    } else if (this.killed.delete(id)) {
      // Failure detection may have removed it already (Redis members are removed once declared failed).
      if (this.observer.ring.node(id)) await this.observer.remove(id);
    } else throw new Error(`unknown node ${id}`);
    await this.waitFor(() => this.observer.ring.node(id) === undefined);
  }

  async kill(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no running node ${id}`);
    this.nodes.delete(id);
    this.killed.set(id, { port: node.port });
    await node.kill();
    const member = this.members.get(id)!;
    this.members.delete(id);
    member.crash();
    this.crashed.push(member);
  }

  /** Restarts a killed node under the same id and port: it takes its keys back. */
  async revive(id: string): Promise<DemoNode> {
    const dead = this.killed.get(id);
    if (!dead) throw new Error(`no killed node ${id}`);
    this.killed.delete(id);
    return this.launch(id, dead.port);
  }

  private async applyVerdict(node: RingNode, verdict: ProbeVerdict): Promise<void> {
    const current = this.observer.ring.node(node.id);
    if (!current || current.status === verdict || current.status === 'leaving' || this.launching.has(node.id)) return;
    await this.observer.update(node.id, { status: verdict }).catch(() => {}); // it may have left meanwhile
  }

  private async waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > until) throw new Error('the cluster did not converge in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.health?.stop();
    this.observerMembership?.off('ring', this.syncHealth);
    await Promise.all([...this.nodes.values()].map((node) => node.stop()));
    this.nodes.clear();
    // Crashed members see their backend as unreachable, so their stop() only releases resources (no leave).
    for (const member of [...this.members.values(), ...this.crashed]) {
      await member.membership.stop();
      await member.release();
    }
    this.members.clear();
    this.crashed.length = 0;
    await this.observerMembership?.stop();
  }
}
