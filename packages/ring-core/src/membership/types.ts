import type { NodeSpec, NodeStatus, Ring, RingNode, RingOptions } from '../types.js';

/** How RingRoute logs: `(details, message)`, which pino, bunyan, winston child loggers and `console` all accept. */
export interface MembershipLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Ring parameters a membership builds its snapshots with. Every member of a cluster must use the same ones. */
export type RingParams = Pick<RingOptions, 'vnodes' | 'hash' | 'avalanche' | 'strategy' | 'route'>;

/** Why a node left the ring. */
export type LeaveReason =
  /** The node called stop() (graceful leave). */
  | 'graceful'
  /** Failure detection declared it dead (no heartbeat for two failure timeouts). */
  | 'failed'
  /** An operator drained it (membership.remove(id)): it stays out, in its own view too, until restarted. */
  | 'removed'
  /** A resynchronisation from the shared snapshot no longer contains it. */
  | 'resync';

/** Why an incoming membership message was refused. Dropped messages are never applied. */
export type DropReason =
  /** Larger than the configured maximum message size. */
  | 'oversized'
  /** Not valid JSON, or not a signed envelope. */
  | 'malformed'
  /** A secret is configured but the message carries no signature. */
  | 'unsigned'
  /** The HMAC does not match. */
  | 'signature'
  /** Valid JSON that does not match the message schema. */
  | 'schema'
  /** Addressed to another cluster. */
  | 'cluster'
  /** A change that cannot be applied to the ring it claims to follow. */
  | 'invalid-change'
  /** A heartbeat replayed: its beat is not newer than one already heard from its sender, or it was sent too long ago. */
  | 'replayed';

export const DROP_REASONS: readonly DropReason[] = [
  'oversized',
  'malformed',
  'unsigned',
  'signature',
  'schema',
  'cluster',
  'invalid-change',
  'replayed',
];

/** An application message sent with `broadcast()`. */
export interface ClusterMessage {
  type: string;
  data: unknown;
  /** Id of the sending member (undefined when an observer sent it). */
  from: string | undefined;
}

export interface MembershipEvents {
  /** A new ring snapshot replaced `previous` (undefined for the first ring). */
  ring: (ring: Ring, previous: Ring | undefined) => void;
  joined: (node: RingNode) => void;
  left: (node: RingNode, reason: LeaveReason) => void;
  /** A member's status changed (alive, suspected, dead, leaving, updating). Keys of other nodes never move. */
  status: (node: RingNode, from: NodeStatus, to: NodeStatus) => void;
  /** The shared backend is unreachable; routing continues on the last-known ring. */
  degraded: (error: Error) => void;
  /** The backend is reachable again; the ring has been resynchronised. */
  recovered: () => void;
  /** start() is waiting for its store; emitted again whenever the reason changes (see `waiting`). */
  waiting: (reason: string) => void;
  /** An application message from another member (a member never receives its own broadcasts). */
  message: (message: ClusterMessage) => void;
  /** An incoming message was refused; see `stats().dropped`. */
  dropped: (reason: DropReason, detail: string) => void;
}

export type MembershipEvent = keyof MembershipEvents;

/** Counters for /metrics. Monotonic except `members`, `epoch` and the flags. */
export interface MembershipStats {
  /** Membership messages received from the backend (changes, heartbeats, app messages), before validation. */
  received: number;
  /** Ring changes applied (own and others'). */
  applied: number;
  /** Messages refused, by reason. */
  dropped: Record<DropReason, number>;
  /** Valid changes ignored because the ring already includes them (duplicates, reordering). */
  stale: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  /** Full reloads of the shared snapshot (gaps, periodic checks, recovery). */
  resyncs: number;
  /** Times the backend became unreachable. */
  outages: number;
  /** Application messages delivered to 'message' listeners. */
  messages: number;
  /** Exceptions thrown by event listeners (caught so they cannot break membership). */
  listenerErrors: number;
  members: number;
  epoch: number;
  ready: boolean;
  degraded: boolean;
  /** Why start() has not finished yet (see `Membership.waiting`); absent once it has. */
  waiting?: string;
}

/** Signs and checks node-to-node payloads with the cluster secret (HMAC-SHA256), as membership messages are signed. */
export interface MessageSigner {
  /** false when no secret is configured: sign() gives '' and verify() accepts anything, as unsigned membership does. */
  readonly signed: boolean;
  sign(parts: readonly (string | Uint8Array)[]): string;
  verify(parts: readonly (string | Uint8Array)[], signature: string | undefined): boolean;
}

/**
 * Keeps a ring in agreement with the rest of the cluster. Implementations: StaticMembership (fixed list +
 * health checks), MemoryMembership (one process), RedisMembership (`@ringroute/ring-core/redis`).
 */
export interface Membership {
  /** The current immutable snapshot. Throws before the first ring exists (check `ready` or await `start()`). */
  readonly ring: Ring;
  /** This process's node, or undefined for a pure observer that routes but owns nothing. */
  readonly self: NodeSpec | undefined;
  /** true once the first ring exists (and until stop()). */
  readonly ready: boolean;
  /** true while the backend is unreachable: routing continues on the last-known ring. */
  readonly degraded: boolean;
  /**
   * While start() runs: what it waits for, naming the store and its address, with the last connection error, e.g.
   * `waiting for Redis at 127.0.0.1:6390: connect ECONNREFUSED 127.0.0.1:6390`. start() retries (with a backoff
   * capped below the heartbeat interval) until the store answers or stop() is called. undefined once joined, and
   * for memberships that never wait.
   */
  readonly waiting?: string | undefined;
  /** Joins the cluster; resolves once the first ring is available. */
  start(): Promise<void>;
  /** Leaves gracefully (removes self everywhere at once) and releases resources. The last ring stays readable. */
  stop(): Promise<void>;
  on<E extends MembershipEvent>(event: E, listener: MembershipEvents[E]): this;
  off<E extends MembershipEvent>(event: E, listener: MembershipEvents[E]): this;
  /** Adds a node to the shared ring. Resolves once the local ring contains it. */
  add(node: NodeSpec): Promise<void>;
  /** Removes a node from the shared ring (reason 'removed'). Throws for an unknown id. */
  remove(id: string): Promise<void>;
  /** Changes a node's url, weight, status or meta. Only the node's own keys can move. */
  update(id: string, patch: Partial<Omit<NodeSpec, 'id'>>): Promise<void>;
  /** Pins a key to a node for every member (null unpins). Pins are part of the shared snapshot. */
  pin(key: string, nodeId: string | null): Promise<void>;
  /** Sends an application message to every other member ('message' event); the sender does not receive it. */
  broadcast(type: string, data: unknown): Promise<void>;
  stats(): MembershipStats;
  /**
   * The current ring's fencing token: the same on every member for the same ring, larger for every later ring, and
   * larger again after a whole-cluster restart (owned state stamps its store writes with it). Shared memberships have it.
   */
  readonly token?: number;
  /** Signs node-to-node transfers with the cluster secret (Redis and etcd memberships; undefined elsewhere). */
  readonly signer?: MessageSigner;
  /** A member silent this long is suspected, twice as long removed (ms); undefined without failure detection. */
  readonly failureTimeout?: number;
  /** Catches up with the shared store now (a process that stalled calls it before acting on its last ring). */
  sync?(): Promise<void>;
}
