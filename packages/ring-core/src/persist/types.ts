/** A durable copy of owned state. Every write carries a fencing token; the store refuses a token older than the one it holds. */
export interface PersistStore {
  /**
   * A new owner takes the key: atomically raises the stored token to `token` (never lowers it; a missing key gets a
   * token-only record) and returns the stored value. `fenced: true` (and nothing changed) when the stored token is
   * already higher than `token`: a newer owner holds the key.
   */
  claim(key: string, token: number): Promise<{ value: Uint8Array | null; fenced: boolean }>;
  /**
   * Conditional writes, one atomic check per entry: applied only if the stored token <= entry.token. Returns, per
   * entry, true when applied and false when fenced. `value: null` deletes the value and keeps the token.
   */
  write(entries: readonly PersistEntry[]): Promise<boolean[]>;
  /** Store round trips issued so far (stats and benchmarks). */
  readonly commands: number;
  close(): Promise<void>;
}

export interface PersistEntry {
  key: string;
  value: Uint8Array | null;
  token: number;
}
