import type { NodeSpec, RingChange } from '../types.js';
import type { DropReason, LeaveReason } from './types.js';

/** The snapshot every member agrees on (a Redis hash, or a MemoryBus's field). */
export interface ClusterState {
  /** Position in the cluster's change log: every committed change increments it by exactly one. */
  seq: number;
  nodes: NodeSpec[];
  pins: Record<string, string>;
  /** Ids of nodes that joined themselves and send heartbeats; failure detection watches only these. */
  members: string[];
  /** Each member's incarnation: the member raises it to refute a removal or suspicion it did not ask for. */
  incarnations?: Record<string, number>;
  /** Nodes an operator drained, with the incarnation drained: that instance stays out, in its own view too. */
  drained?: Record<string, number>;
  /**
   * When the cluster's snapshot was first created (ms since the epoch), kept by every change: fencing tokens are
   * `generation + seq`, so a cluster whose snapshot expired and started again at seq 0 still issues larger tokens.
   */
  generation?: number;
}

/** One committed change, as published to the other members. */
export interface ClusterChange extends RingChange {
  /** Nodes that start sending heartbeats (a node joining itself). */
  join?: string[];
  /** Why `remove` removes (default 'removed'). */
  reason?: LeaveReason;
  /** Incarnations announced by members joining or refuting. */
  incarnations?: Record<string, number>;
  /** Removed nodes that an operator drained, with their incarnation: they do not rejoin until a new instance starts. */
  drain?: Record<string, number>;
}

/** What travels on the bus. `sender` identifies the publishing instance (to skip its own echo). */
export type BusMessage =
  | { kind: 'change'; sender: string; seq: number; change: ClusterChange }
  | { kind: 'app'; sender: string; from: string | undefined; type: string; data: unknown };

/**
 * A member's liveness record: each member overwrites its own, with a time to live; a few others read it. So a
 * heartbeat costs O(1) backend operations per member, whatever the cluster's size.
 */
export interface Heartbeat {
  /** The sender instance (a restart under the same node id is a new sender). */
  sender: string;
  node: string;
  /** The sender's ring seq: a reader behind it resyncs. */
  seq: number;
  /** Counts the sender instance's heartbeats from 1: a beat not above the last one read is a replay. */
  beat: number;
  /** The sender's wall clock when sending (ms since the epoch): a captured heartbeat goes stale. */
  sentAt: number;
}

export interface BackendHooks {
  /** A message that passed every check. */
  message(message: BusMessage): void;
  /** A message, heartbeat or snapshot that was refused (never applied). */
  dropped(reason: DropReason, detail: string): void;
  /** The backend became unreachable (reported again for each failed reconnect, with that attempt's error). */
  degraded(error: Error): void;
  /** The backend is reachable again (subscriptions restored). */
  recovered(): void;
}

/** The snapshot exists but failed to decode or verify; `seq` is its stored seq (the `expected` of a commit replacing it). */
export class RefusedSnapshot extends Error {
  constructor(
    readonly seq: number | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What a shared membership needs from its store: an atomic compare-and-set snapshot, an ordered broadcast, and
 * per-member heartbeats that expire. `commit` must publish `change` only if the snapshot's seq still equals
 * `expected` (null = no snapshot yet), in one atomic step, so every member sees changes in seq order.
 */
export interface MembershipBackend {
  /** The store and its address, for messages (never credentials): 'Redis at 127.0.0.1:6379', 'etcd at http://10.0.0.5:2379'. */
  readonly store: string;
  /**
   * Connects and subscribes. A start that fails is retried by the membership: it calls close() and then open()
   * again, so open() must work after close(). While the store is unreachable the backend reports each connection
   * error through `degraded` (the membership shows it as the reason it waits).
   */
  open(hooks: BackendHooks): Promise<void>;
  /** The snapshot, or null when there is none (first start, or the backend lost its data). Throws RefusedSnapshot. */
  load(): Promise<ClusterState | null>;
  /** The snapshot's seq without reading it (null when absent): the cheap periodic check. */
  seq(): Promise<number | null>;
  commit(expected: number | null, state: ClusterState, change: BusMessage | undefined): Promise<boolean>;
  publish(message: BusMessage): Promise<void>;
  /** Stores this member's heartbeat, replacing its previous one; it expires after `ttl` ms. */
  beat(heartbeat: Heartbeat, ttl: number): Promise<void>;
  /**
   * The current heartbeat of each node (null: none, or expired), in order. A refused record is reported through
   * `dropped` and read as null.
   */
  heartbeats(nodes: readonly string[]): Promise<(Heartbeat | null)[]>;
  close(): Promise<void>;
}
