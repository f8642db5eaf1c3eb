import { checkKnownOptions, fail } from '../errors.js';
import { RING_PARAMS } from '../ring/params.js';
import { HealthChecker, type HealthCheckOptions, type ProbeVerdict } from '../health/checker.js';
import { resolveNodes } from '../ring/nodes.js';
import type { NodeSpec, NodeStatus, Ring, RingNode } from '../types.js';
import { MemoryBus } from './memory.js';
import { SharedMembership } from './shared.js';
import type { RingParams } from './types.js';

export interface StaticMembershipOptions extends RingParams {
  /** The fixed member list (the SmartRoute seed's clusterNodes). */
  nodes: readonly NodeSpec[];
  /** This process's node: a spec (added when missing from `nodes`) or the id of an entry of `nodes`. */
  self?: NodeSpec | string;
  /** Probe the other nodes and route around failing ones. Omit for no health checks. */
  healthCheck?: HealthCheckOptions | HealthChecker;
}

/**
 * A fixed node list, local to this process (nothing is shared between processes: each router probes on its own).
 * With `healthCheck`, failing nodes become suspected, then dead, and alive again when probes pass; only their
 * status changes, so keys of other nodes never move. add/remove/update/pin change this process's ring only, and
 * broadcast() has no one to reach.
 */
export class StaticMembership extends SharedMembership {
  private readonly checker: HealthChecker | undefined;

  constructor(options: StaticMembershipOptions) {
    if (options === null || typeof options !== 'object') fail('options', 'must be an object with a nodes array');
    checkKnownOptions(options, ['nodes', 'self', 'healthCheck', ...RING_PARAMS]);
    const nodes = resolveNodes(options.nodes);
    let self = options.self;
    if (typeof self === 'string') {
      const id = self;
      self = options.nodes.find((n) => n.id === id) ?? fail('self', `no node with id ${JSON.stringify(id)} in nodes`);
    }
    super(new MemoryBus({ nodes }).connect(), { ...options, self });
    this.checker =
      options.healthCheck === undefined || options.healthCheck instanceof HealthChecker
        ? options.healthCheck
        : new HealthChecker(options.healthCheck);
  }

  override async start(): Promise<void> {
    await super.start();
    const checker = this.checker;
    if (!checker) return;
    checker.start((node, verdict) => this.judge(node, verdict));
    const others = (ring: Ring) => ring.nodes.filter((n) => n.id !== this.self?.id);
    this.on('ring', (ring) => checker.sync(others(ring)));
    checker.sync(others(this.ring));
  }

  override async stop(): Promise<void> {
    this.checker?.stop();
    await super.stop();
  }

  /** Probe counters (probes run, probes failed), for /metrics. */
  healthStats(): { probes: number; failures: number } {
    return this.checker?.stats() ?? { probes: 0, failures: 0 };
  }

  private judge(node: RingNode, verdict: ProbeVerdict): void {
    const current = this.ring.node(node.id);
    if (!current) return;
    const next = nextStatus(current.status, verdict);
    if (next) void this.update(node.id, { status: next }).catch(() => {});
  }
}

/** Operator states (updating, leaving) are left alone; only health verdicts move alive / suspected / dead. */
function nextStatus(status: NodeStatus, verdict: ProbeVerdict): NodeStatus | undefined {
  if (verdict === 'alive') return status === 'suspected' || status === 'dead' ? 'alive' : undefined;
  if (verdict === 'suspected') return status === 'alive' ? 'suspected' : undefined;
  return status === 'alive' || status === 'suspected' ? 'dead' : undefined;
}
