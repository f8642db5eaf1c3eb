import { fail } from '../errors.js';
import { resolveNodes, toSpec } from '../ring/nodes.js';
import type { NodeSpec } from '../types.js';
import type { BackendHooks, BusMessage, ClusterState, Heartbeat, MembershipBackend } from './backend.js';
import { SharedMembership } from './shared.js';
import type { RingParams } from './types.js';

/**
 * An in-process stand-in for Redis: the shared snapshot plus an ordered broadcast. Members created with the same
 * bus share one ring (tests, demos, several logical nodes in one process). Deliveries are asynchronous, like pub/sub.
 */
export class MemoryBus {
  private state: ClusterState | null = null;
  private readonly subscribers = new Set<BackendHooks>();
  private readonly beats = new Map<string, { heartbeat: Heartbeat; expires: number }>();

  /** `initial` seeds the shared ring (a demo's fixed nodes, StaticMembership's list). */
  constructor(initial: { nodes?: readonly NodeSpec[]; pins?: Readonly<Record<string, string>> } = {}) {
    if (initial === null || typeof initial !== 'object') fail('initial', 'must be an object');
    if (initial.nodes === undefined && initial.pins === undefined) return;
    const nodes = resolveNodes(initial.nodes ?? []).map(toSpec);
    const pins = { ...initial.pins };
    for (const [key, target] of Object.entries(pins)) if (typeof target !== 'string') fail(`pins.${key}`, 'must be a node id');
    this.state = { seq: 0, nodes, pins, members: [], generation: Date.now() };
  }

  /** Connects one member. */
  connect(): MembershipBackend {
    let hooks: BackendHooks | undefined;
    return {
      store: 'the in-process MemoryBus',
      open: async (h) => {
        hooks = h;
        this.subscribers.add(h);
      },
      load: async () => (this.state ? structuredClone(this.state) : null),
      seq: async () => this.state?.seq ?? null,
      commit: async (expected, state, change) => {
        if ((this.state?.seq ?? null) !== expected) return false;
        this.state = structuredClone(state);
        if (change) this.deliver(change);
        return true;
      },
      publish: async (message) => this.deliver(message),
      beat: async (heartbeat, ttl) => {
        this.beats.set(heartbeat.node, { heartbeat: structuredClone(heartbeat), expires: Date.now() + ttl });
      },
      heartbeats: async (nodes) =>
        nodes.map((node) => {
          const entry = this.beats.get(node);
          return entry && entry.expires > Date.now() ? structuredClone(entry.heartbeat) : null;
        }),
      close: async () => {
        if (hooks) this.subscribers.delete(hooks);
      },
    };
  }

  private deliver(message: BusMessage): void {
    for (const hooks of this.subscribers) {
      const copy = structuredClone(message);
      queueMicrotask(() => hooks.message(copy)); // microtasks run in order: every member sees one sequence
    }
  }
}

export interface MemoryMembershipOptions extends RingParams {
  /** Share one bus between members; default: a private bus (a cluster of one). */
  bus?: MemoryBus;
  /** This member's node; omit for an observer that follows the ring without joining it. */
  self?: NodeSpec;
}

/** Membership over a MemoryBus: every member on the bus sees the same ring, pins and broadcasts. */
export class MemoryMembership extends SharedMembership {
  constructor(options: MemoryMembershipOptions = {}) {
    if (options === null || typeof options !== 'object') fail('options', 'must be an object');
    if (options.bus !== undefined && !(options.bus instanceof MemoryBus)) fail('bus', 'must be a MemoryBus');
    const bus = options.bus ?? new MemoryBus();
    // One process cannot lose a member without stop(): no heartbeats or failure detection needed.
    super(bus.connect(), options);
  }
}
