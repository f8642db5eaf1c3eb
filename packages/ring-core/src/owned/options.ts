import { checkKnownOptions, checkNumber, fail } from '../errors.js';

/** The `state` option of both adapters: how owned state moves (and, with `persist`, where it is kept durable). */
export interface OwnedStateOptions {
  /**
   * A durable copy for crashes: `{ store, write: 'through' | 'behind', flushWithin? }`. Without it, a node that
   * crashes (kill -9, OOM) loses the state it held; planned changes (join, leave, drain, rolling restarts) never do.
   */
  persist?: unknown;
  /** Largest value of one key (bytes once encoded); larger writes fail with 413. Default 1 MiB. */
  maxValueBytes?: number;
  /** Largest transfer between two nodes (bytes); a receiver refuses larger ones. Default 4 MiB, at least maxValueBytes + 64 KiB. */
  maxBatchBytes?: number;
  /** Keys per transfer at most (a transfer also stays within maxBatchBytes). Default 256. */
  batchSize?: number;
  /** Transfers a node sends at once during a handoff (a request's pull always goes at once). Default 4. */
  maxConcurrentTransfers?: number;
  /** ms one transfer (or pull) may take before it is retried. Default 10000. */
  transferTimeout?: number;
  /** ms a request waits for its key's previous owner before it gets 503. Default 10000. */
  importTimeout?: number;
  /** ms a leaving node spends handing its keys over before it leaves anyway. Default 30000. */
  leaveTimeout?: number;
}

export const OWNED_STATE_OPTIONS = [
  'persist',
  'maxValueBytes',
  'maxBatchBytes',
  'batchSize',
  'maxConcurrentTransfers',
  'transferTimeout',
  'importTimeout',
  'leaveTimeout',
] as const;

export type ResolvedOwnedStateOptions = Required<Omit<OwnedStateOptions, 'persist'>> & { persist: unknown };

const MIB = 1024 * 1024;
/** Room for a transfer's header and per-key framing beside its values. */
const FRAMING = 64 * 1024;

/** Validates the `state` option; errors name `state.<option>`. */
export function resolveOwnedStateOptions(value: OwnedStateOptions | undefined): ResolvedOwnedStateOptions {
  const options = value ?? {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('state', 'must be an object');
  checkKnownOptions(options, OWNED_STATE_OPTIONS, 'state.');
  const int = (name: (typeof OWNED_STATE_OPTIONS)[number], fallback: number, min: number, max: number): number => {
    const given = (options as Record<string, unknown>)[name];
    return given === undefined ? fallback : checkNumber(`state.${name}`, given, { min, max, integer: true });
  };
  const maxValueBytes = int('maxValueBytes', MIB, 1, 256 * MIB);
  const maxBatchBytes = int('maxBatchBytes', Math.max(4 * MIB, maxValueBytes + FRAMING), 1024, 512 * MIB);
  if (maxBatchBytes < maxValueBytes + FRAMING)
    fail('state.maxBatchBytes', `must be at least state.maxValueBytes + ${FRAMING} (${maxValueBytes + FRAMING})`);
  return {
    persist: options.persist,
    maxValueBytes,
    maxBatchBytes,
    batchSize: int('batchSize', 256, 1, 100_000),
    maxConcurrentTransfers: int('maxConcurrentTransfers', 4, 1, 1000),
    transferTimeout: int('transferTimeout', 10_000, 10, 3_600_000),
    importTimeout: int('importTimeout', 10_000, 10, 3_600_000),
    leaveTimeout: int('leaveTimeout', 30_000, 0, 86_400_000),
  };
}

/** Names of states: path- and key-safe (they prefix durable keys as `<name>:<key>`). */
export function checkStateName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    fail('name', `must be 1 to 64 letters, digits, '_', '.' or '-' (got ${JSON.stringify(name)})`);
  return name;
}
