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
}

/** One committed change, as published to the other members. */
export interface ClusterChange extends RingChange {
  /** Nodes that start sending heartbeats (a node joining itself). */
  join?: string[];
  /** Why `remove` removes (default 'removed'). */
  reason?: LeaveReason;
}

/** Everything that travels on the bus. `sender` identifies the publishing instance (to skip its own echo). */
export type BusMessage =
  | { kind: 'change'; sender: string; seq: number; change: ClusterChange }
  | {
      kind: 'heartbeat';
      sender: string;
      node: string;
      /** The sender's ring seq: a receiver behind it resyncs. */
      seq: number;
      /** Counts the sender instance's heartbeats from 1: a beat not above the last one heard is a replay. */
      beat: number;
      /** The sender's wall clock when sending (ms since the epoch): a captured heartbeat goes stale. */
      sentAt: number;
    }
  | { kind: 'app'; sender: string; from: string | undefined; type: string; data: unknown };

export interface BackendHooks {
  /** A message that passed every check. */
  message(message: BusMessage): void;
  /** A message that was refused (never applied). */
  dropped(reason: DropReason, detail: string): void;
  /** The backend became unreachable. */
  degraded(error: Error): void;
  /** The backend is reachable again (subscriptions restored). */
  recovered(): void;
}

/**
 * What a shared membership needs from its transport: an atomic compare-and-set snapshot plus an ordered broadcast.
 * `commit` must publish `change` only if the snapshot's seq still equals `expected` (null = no snapshot yet), in
 * one atomic step, so every member sees changes in seq order.
 */
export interface MembershipBackend {
  open(hooks: BackendHooks): Promise<void>;
  /** The snapshot, or null when there is none (first start, or the backend lost its data). */
  load(): Promise<ClusterState | null>;
  /** The snapshot's seq without reading it (null when absent): the cheap periodic check. */
  seq(): Promise<number | null>;
  commit(expected: number | null, state: ClusterState, change: BusMessage | undefined): Promise<boolean>;
  publish(message: BusMessage): Promise<void>;
  close(): Promise<void>;
}
