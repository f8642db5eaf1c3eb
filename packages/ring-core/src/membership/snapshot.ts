import { RefusedSnapshot, type ClusterState, type MembershipBackend } from './backend.js';
import type { MembershipLogger } from './types.js';

/** Loads a member without a ring makes (one `wait` apart) for the running members to rebuild a refused snapshot. */
const REBUILD_WAITS = 3;
/** Seeds or rebuilds that may lose a race before the load gives up. */
const MAX_ATTEMPTS = 20;

export interface SnapshotLoad {
  /** This member's own state at `seq` (its ring, members, incarnations): what seeds or rebuilds the snapshot. */
  own(seq: number): ClusterState;
  /** This member's seq (-1 before its first ring). */
  seq: number;
  /** Whether this member has a ring: it then rebuilds a refused snapshot at once. */
  hasRing: boolean;
  /** Between the loads of a newcomer waiting for a rebuild (ms). */
  wait: number;
  logger: Pick<MembershipLogger, 'error'> | undefined;
}

/**
 * A snapshot this member writes from its own state: a member that never saw a generation (the first member of a new
 * cluster, or a newcomer rebuilding a refused snapshot) starts one from the clock, so fencing tokens
 * (`generation + seq`) keep growing across whole-cluster restarts whose snapshot expired meanwhile.
 */
const generated = (state: ClusterState): ClusterState => (state.generation ? state : { ...state, generation: Date.now() });

/**
 * The snapshot; seeded when absent (first member ever, or the backend lost its data). A refused one (tampered, or
 * signed with another secret) is logged and rebuilt from the member's own state: at once by a member that has a
 * ring, after a few waits by a newcomer, so the running members, who know more, normally rebuild it first.
 */
export async function loadSnapshot(backend: MembershipBackend, { own, seq, hasRing, wait, logger }: SnapshotLoad): Promise<ClusterState> {
  for (let attempt = 0; attempt < REBUILD_WAITS + MAX_ATTEMPTS; attempt++) {
    let state: ClusterState | null;
    try {
      state = await backend.load();
    } catch (error) {
      if (!(error instanceof RefusedSnapshot)) throw error;
      const waiting = !hasRing && attempt < REBUILD_WAITS;
      logger?.error(
        { err: error, seq: error.seq },
        waiting
          ? 'ringroute: membership snapshot refused; waiting for the running members to rebuild it'
          : "ringroute: membership snapshot refused; rebuilding it from this member's state",
      );
      if (waiting) await new Promise((resolve) => setTimeout(resolve, wait));
      else await backend.commit(error.seq, generated(own(Math.max(error.seq ?? 0, seq) + 1)), undefined);
      continue;
    }
    // A snapshot behind what this member applied means the store went back in time (a promoted replica that missed
    // the last writes, a restored backup): rebuild it from this member's state instead of rolling the ring back.
    if (state && hasRing && state.seq < seq) {
      logger?.error({ seq: state.seq, applied: seq }, "ringroute: membership snapshot is older than this member's ring; rebuilding it");
      await backend.commit(state.seq, own(seq + 1), undefined);
      continue;
    }
    if (state) return state;
    await backend.commit(null, generated(own(seq + 1)), undefined);
  }
  throw new Error('membership snapshot could not be loaded, created or rebuilt');
}
