import type { RingRouteLogger } from '../log.js';
import type { Ring } from '../types.js';
import type { Ledger } from './ledger.js';
import type { ResolvedOwnedStateOptions } from './options.js';
import type { Persistence } from './persist.js';
import type { Space } from './space.js';
import type { Transport } from './transport.js';
import type { HandoffProgress, OwnedStateEvents } from './types.js';

/** Counters of what this node took over or lost (what it hands over, the scheduler counts). */
export type Counters = Pick<HandoffProgress, 'bytes' | 'received' | 'receivedBytes' | 'pulled' | 'dropped' | 'startedEmpty' | 'loaded'>;

/** What the sender and the receiver share: one per engine. */
export interface Context {
  readonly self: string;
  readonly ledger: Ledger;
  readonly spaces: Map<string, Space>;
  readonly transport: Transport;
  readonly persistence: Persistence | undefined;
  readonly options: ResolvedOwnedStateOptions;
  readonly counters: Counters;
  readonly log: RingRouteLogger;
  /** Catches up with the membership store (bounded; failures are logged, never thrown). */
  sync(): Promise<void>;
  /** Emits only when someone listens (a move emits per key). */
  emit<E extends keyof OwnedStateEvents>(event: E, payload: () => Parameters<OwnedStateEvents[E]>[0]): void;
}

/** Ids of keys across states: a state name never contains a NUL. */
export const idOf = (state: string, key: string) => `${state}\u0000${key}`;
export function splitId(id: string): [state: string, key: string] {
  const at = id.indexOf('\u0000');
  return [id.slice(0, at), id.slice(at + 1)];
}

/** The owner of a key by the ring this node acts on. */
export const ownerOf = (ring: Ring | undefined, key: string) => ring?.owner(key)?.id;
