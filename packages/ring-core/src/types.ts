/** Lifecycle states of a member (the Go seed's list). Only routable states own keys at pick time. */
export type NodeStatus = 'alive' | 'suspected' | 'dead' | 'leaving' | 'updating';

export interface NodeSpec {
  /** Unique, non-empty id. Its virtual-node positions derive from it, so it must be stable across restarts. */
  id: string;
  /** Base URL the node is reachable at (used for redirects and proxying; never taken from a request). */
  url?: string;
  /** Relative capacity; scales the node's share of the keyspace. 0 = draining (owns nothing). Default 1. */
  weight?: number;
  /** Default 'alive'. */
  status?: NodeStatus;
  /** Free-form metadata, carried with the node through membership. */
  meta?: Record<string, unknown>;
  /**
   * Strategy 'nginx': the address exactly as the proxy's `server` line writes it (`host:port`, `name:port`, `unix:/path`),
   * which is what nginx hashes. Default: host and port of `url`.
   */
  server?: string;
  /** Strategy 'haproxy': the server's numeric id (the generated config writes `id N`), which is what HAProxy hashes. */
  serverId?: number;
}

/** A node as the ring holds it: every field resolved. */
export interface RingNode {
  readonly id: string;
  readonly url: string | undefined;
  readonly weight: number;
  readonly status: NodeStatus;
  readonly meta: Readonly<Record<string, unknown>> | undefined;
  /** ms since epoch of the last status change seen by this ring (0 when never changed). */
  readonly since: number;
  readonly server: string | undefined;
  readonly serverId: number | undefined;
}

export type HashName = 'xxh64' | 'xxh32' | 'murmur3' | 'djb2' | 'crc32' | 'sdbm' | 'wt6';
/** A hash maps a key to an unsigned 32-bit ring position. */
export type HashFunction = (key: string) => number;

/** 'nginx' and 'haproxy' pick exactly what those proxies' consistent hashing picks (see the README). */
export type StrategyName = 'ring' | 'maglev' | 'rendezvous' | 'nginx' | 'haproxy';

/** Overrides the strategy for some keys: return a node (or its id), or null/undefined to fall back to hashing. */
export type RoutingFunction = (key: string, nodes: readonly RingNode[]) => RingNode | string | null | undefined;

export interface RingOptions {
  nodes: readonly NodeSpec[];
  /** Virtual nodes per unit of weight (ring strategy). Default 150. */
  vnodes?: number;
  hash?: HashName | HashFunction;
  /**
   * Applies HAProxy's avalanche step (full_hash) to the key's hash. Default: true for strategy 'haproxy' without a
   * `hash` (as a bare `hash-type consistent`), false otherwise.
   */
  avalanche?: boolean;
  strategy?: StrategyName;
  /** Starting epoch (membership implementations carry it forward). Default 0. */
  epoch?: number;
  /** Per-key overrides: key -> node id. A pin beats the custom routing function and the strategy. */
  pins?: Readonly<Record<string, string>>;
  /** Custom routing; beats the strategy, loses to pins. */
  route?: RoutingFunction;
}

export interface RingChange {
  add?: readonly NodeSpec[];
  remove?: readonly string[];
  /** Partial updates by id (status, weight, url, meta). */
  update?: readonly (Partial<NodeSpec> & { id: string })[];
  /** Replace or clear pins: key -> node id, or null to unpin. */
  pins?: Readonly<Record<string, string | null>>;
}

export interface OwnershipRange {
  /** Inclusive start and inclusive end of a ring arc, as unsigned 32-bit positions. start > end means the arc wraps. */
  start: number;
  end: number;
}

/** An immutable snapshot of the cluster. Readers keep using the snapshot they hold; changes build a new one. */
export interface Ring {
  readonly epoch: number;
  /** Hex digest over the members (id, url, weight, status) and ring parameters; independent of insertion order. */
  readonly checksum: string;
  /** Members sorted by id. */
  readonly nodes: readonly RingNode[];
  readonly vnodes: number;
  readonly strategy: StrategyName;
  readonly hashName: HashName | 'custom';
  readonly avalanche: boolean;
  readonly pins: Readonly<Record<string, string>>;
  /** The first routable candidate, or undefined when no node is routable. */
  owner(key: string): RingNode | undefined;
  /** Up to n distinct routable nodes in candidate order (replicas). */
  owners(key: string, n: number): RingNode[];
  /** The fallback chain: every node once, routable ones first, each group in ring order. */
  candidates(key: string): IterableIterator<RingNode>;
  /**
   * The arcs of the keyspace whose keys the node owns by placement (ignores status and pins). Empty for
   * 'rendezvous', where ownership is decided per key rather than by arcs.
   */
  ranges(nodeId: string): OwnershipRange[];
  /** The ring position of a key under this ring's hash. */
  position(key: string): number;
  node(id: string): RingNode | undefined;
  with(change: RingChange): Ring;
  /** Plain data that recreates this ring (membership snapshots, the client helper). */
  toJSON(): RingSnapshotJSON;
}

export interface RingSnapshotJSON {
  epoch: number;
  checksum: string;
  vnodes: number;
  hash: HashName;
  /** Present (true) only when the avalanche step is on. */
  avalanche?: boolean;
  strategy: StrategyName;
  nodes: NodeSpec[];
  pins: Record<string, string>;
}
