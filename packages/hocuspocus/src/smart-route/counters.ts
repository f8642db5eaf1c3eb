/** Counters for `GET /api/routes/stats` (`routing`) and `ringroute_hocuspocus_events_total`. */
export interface SmartRouteCounters {
  /** Documents admitted here (connections and loads). */
  admitted: number;
  /** Refusals carrying a redirect hint. */
  redirected: number;
  /** Refusals without a hint (redirects off, no owner, too many hops). */
  refused: number;
  /** Admissions that waited for a previous owner's handover. */
  waitedForHandover: number;
  /** Of those, the ones that gave up waiting after migrationTimeout. */
  handoverTimeouts: number;
  /** Store attempts that failed during a handover (each is retried). */
  storeFailures: number;
  /** Stores refused because this node no longer owned the document (fencing). */
  fencedStores: number;
  /** Documents this node still held when it found it had been declared dead (never stored again). */
  staleDocuments: number;
  /** Stale documents whose changes another node (their owner) confirmed it merged. */
  shipped: number;
  /** Changes of stale documents merged here (from another node, or from this node's own stale copy). */
  merged: number;
}

export const newCounters = (): SmartRouteCounters => ({
  admitted: 0,
  redirected: 0,
  refused: 0,
  waitedForHandover: 0,
  handoverTimeouts: 0,
  storeFailures: 0,
  fencedStores: 0,
  staleDocuments: 0,
  shipped: 0,
  merged: 0,
});
