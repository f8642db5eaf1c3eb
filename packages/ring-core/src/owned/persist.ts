import type { RingRouteLogger } from '../log.js';
import { Persister, type PersistOptions } from '../persist/persister.js';

/**
 * The engine's side of the seam with `persist/`: what owned state needs from a Persister. The owner's memory is the
 * live copy, the store the durable one; every write carries the fencing token of the ring the writer acts on, and
 * the store refuses a token older than the one it holds.
 */
export interface Persistence {
  /** A new owner takes a key without a handoff: raises the stored token and returns the stored value. */
  claim(key: string, token: number): Promise<{ value: Uint8Array | null; fenced: boolean }>;
  /** Resolves true once stored (`'through'`) or at once (`'behind'`); false: a newer owner holds the key. */
  write(key: string, value: Uint8Array | null, token: number): Promise<boolean>;
  /** Resolves when these keys (or all) are durable: before a key is handed over, and on close. */
  flush(keys?: readonly string[]): Promise<void>;
  stats(): PersistenceStats;
  /** Flushes and closes the store. */
  close(): Promise<void>;
}

export interface PersistenceStats {
  writes: number;
  coalesced: number;
  flushes: number;
  commands: number;
  fenced: number;
  pending: number;
}

/** The durable key of `key` in the named state `state` (state names never contain ':'). */
export const persistKey = (state: string, key: string) => `${state}:${key}`;

/** The `state.persist` option (`{ store, write, flushWithin?, batch? }`) as the engine's Persistence (undefined: no durable copy). */
export function resolvePersistence(value: unknown, onFenced: (key: string) => void, logger: RingRouteLogger): Persistence | undefined {
  if (value === undefined) return undefined;
  return new Persister(value as PersistOptions, { onFenced, logger, option: 'state.persist' });
}
