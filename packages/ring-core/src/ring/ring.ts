import { checkKnownOptions, checkNumber, fail } from '../errors.js';
import { murmur3 } from '../hash/murmur3.js';
import { fullHash, loadHash } from '../hash/index.js';
import { STRATEGIES, type Placement } from '../strategy/index.js';
import type {
  HashFunction,
  HashName,
  NodeSpec,
  OwnershipRange,
  Ring,
  RingChange,
  RingNode,
  RingOptions,
  RingSnapshotJSON,
  RoutingFunction,
  StrategyName,
} from '../types.js';
import { byId, isRoutable, resolveNode, resolveNodes, toSpec } from './nodes.js';
import { resolveRingParams } from './params.js';

interface RingState {
  epoch: number;
  nodes: readonly RingNode[];
  vnodes: number;
  hash: HashFunction;
  hashName: HashName | 'custom';
  avalanche: boolean;
  strategy: StrategyName;
  pins: Readonly<Record<string, string>>;
  route: RoutingFunction | undefined;
  placement: Placement;
}

/** An immutable ring snapshot. `with()` builds the next one; holders of this one are never disturbed. */
class HashRing implements Ring {
  readonly epoch: number;
  readonly nodes: readonly RingNode[];
  readonly vnodes: number;
  readonly strategy: StrategyName;
  readonly hashName: HashName | 'custom';
  readonly avalanche: boolean;
  readonly pins: Readonly<Record<string, string>>;
  readonly checksum: string;
  private readonly hash: HashFunction;
  private readonly route: RoutingFunction | undefined;
  private readonly placement: Placement;
  private readonly routable: Uint8Array;
  private readonly index: ReadonlyMap<string, number>;
  private readonly hasOverrides: boolean;
  /** Scratch for deduplicating a walk: seen[i] === mark when node i was met in the current lookup. */
  private readonly seen: Uint32Array;
  private mark = 0;

  constructor(state: RingState) {
    this.epoch = state.epoch;
    this.nodes = Object.freeze([...state.nodes]);
    this.vnodes = state.vnodes;
    this.strategy = state.strategy;
    this.hashName = state.hashName;
    this.avalanche = state.avalanche;
    this.pins = Object.freeze({ ...state.pins });
    this.hash = state.hash;
    this.route = state.route;
    this.placement = state.placement;
    this.routable = Uint8Array.from(this.nodes, (node) => (isRoutable(node) ? 1 : 0));
    this.index = new Map(this.nodes.map((node, i) => [node.id, i]));
    this.hasOverrides = this.route !== undefined || Object.keys(this.pins).length > 0;
    this.seen = new Uint32Array(this.nodes.length);
    this.checksum = checksumOf(this);
  }

  position(key: string): number {
    return this.hash(key) >>> 0;
  }

  node(id: string): RingNode | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.nodes[i];
  }

  owner(key: string): RingNode | undefined {
    if (!this.hasOverrides) {
      // Fast path: the placement's first choice, when it is routable. No allocation.
      const first = this.placement.first(this.hash(key) >>> 0);
      if (first >= 0 && this.routable[first] === 1) return this.nodes[first];
    }
    const picked: RingNode[] = [];
    return this.collect(key, 1, picked, undefined) === 0 ? undefined : picked[0];
  }

  owners(key: string, n: number): RingNode[] {
    if (!(n > 0)) return [];
    // Sized up front: growing an empty array on the first push costs more than the whole walk.
    const picked = new Array<RingNode>(Math.min(n, this.nodes.length));
    const count = this.collect(key, n, picked, undefined);
    if (count < picked.length) picked.length = count; // setting length is a slow path: only to trim
    return picked;
  }

  candidates(key: string): IterableIterator<RingNode> {
    const picked = new Array<RingNode>(this.nodes.length);
    const later: RingNode[] = [];
    const count = this.collect(key, this.nodes.length, picked, later);
    if (count < picked.length) picked.length = count;
    // The walk is complete already: an array iterator costs less than resuming a generator per candidate.
    return (later.length === 0 ? picked : picked.concat(later)).values();
  }

  /**
   * The fallback chain: the pin, then the routing function's choice, then the placement's walk, then
   * members without any share. Routable nodes fill `picked` from index 0 (stopping at `limit`; the count is
   * returned), the others go to `later` when given. Plain loops over a cursor: this is the hot path of owners().
   */
  private collect(key: string, limit: number, picked: RingNode[], later: RingNode[] | undefined): number {
    let count = 0;
    let pinned = -1;
    let routed = -1;
    if (this.hasOverrides) {
      const pin = this.pins[key];
      pinned = pin === undefined ? -1 : (this.index.get(pin) ?? -1);
      if (pinned >= 0 && (count = this.file(pinned, picked, count, later)) >= limit) return count;
      if (this.route) {
        const chosen = this.route(key, this.nodes);
        routed = chosen == null ? -1 : (this.index.get(typeof chosen === 'string' ? chosen : chosen.id) ?? -1);
        if (routed === pinned) routed = -1;
        else if (routed >= 0 && (count = this.file(routed, picked, count, later)) >= limit) return count;
      }
    }
    // Walk dedup by generation stamps rather than a fresh Set per lookup (taken after the routing function,
    // which may itself look keys up on this ring).
    const { placement, seen } = this;
    const mark = this.nextMark();
    const cursor = placement.start(this.hash(key) >>> 0);
    const { steps, holders } = placement;
    for (let step = 0, met = 0; step < steps && met < holders; step++) {
      const i = placement.at(cursor, step);
      if (seen[i] === mark) continue;
      seen[i] = mark;
      met++;
      if (i !== pinned && i !== routed && (count = this.file(i, picked, count, later)) >= limit) return count;
    }
    // Members without any placement share (weight 0, or too small for a Maglev slot) close the chain.
    for (let i = 0; i < this.nodes.length; i++) {
      if (seen[i] === mark || i === pinned || i === routed) continue;
      if ((later !== undefined || this.routable[i] === 1) && (count = this.file(i, picked, count, later)) >= limit) return count;
    }
    return count;
  }

  /** Files node i: a routable one at picked[count] (returns count + 1), any other onto `later`. */
  private file(i: number, picked: RingNode[], count: number, later: RingNode[] | undefined): number {
    if (this.routable[i] === 1) {
      picked[count] = this.nodes[i]!;
      return count + 1;
    }
    later?.push(this.nodes[i]!);
    return count;
  }

  private nextMark(): number {
    if (this.mark === 0xffffffff) {
      this.seen.fill(0);
      this.mark = 0;
    }
    return ++this.mark;
  }

  ranges(nodeId: string): OwnershipRange[] {
    const i = this.index.get(nodeId);
    return i === undefined ? [] : this.placement.ranges(i);
  }

  with(change: RingChange): Ring {
    const now = Date.now();
    const byIdMap = new Map(this.nodes.map((node) => [node.id, node]));
    for (const [i, id] of (change.remove ?? []).entries()) {
      if (typeof id !== 'string') fail(`remove[${i}]`, 'must be a node id');
      byIdMap.delete(id);
    }
    for (const [i, spec] of (change.add ?? []).entries()) {
      const node = resolveNode(spec, `add[${i}]`);
      if (byIdMap.has(node.id)) fail(`add[${i}].id`, `duplicate node id ${JSON.stringify(node.id)}`);
      byIdMap.set(node.id, node);
    }
    for (const [i, patch] of (change.update ?? []).entries()) {
      const current = byIdMap.get(patch?.id);
      if (!current) fail(`update[${i}].id`, `unknown node id ${JSON.stringify(patch?.id)}`);
      byIdMap.set(current.id, resolveNode({ ...toSpec(current), ...patch }, `update[${i}]`, current, now));
    }
    const pins = { ...this.pins };
    for (const [key, target] of Object.entries(change.pins ?? {})) {
      if (target === null) delete pins[key];
      else pins[key] = target;
    }
    const nodes = [...byIdMap.values()].sort(byId);
    const sameLayout =
      nodes.length === this.nodes.length && nodes.every((n, i) => n.id === this.nodes[i]!.id && n.weight === this.nodes[i]!.weight);
    return new HashRing({
      epoch: this.epoch + 1,
      nodes,
      vnodes: this.vnodes,
      hash: this.hash,
      hashName: this.hashName,
      avalanche: this.avalanche,
      strategy: this.strategy,
      pins,
      route: this.route,
      // Status, url and pin changes never move positions: reuse the placement as is.
      placement: sameLayout
        ? this.placement
        : STRATEGIES[this.strategy]({
            nodes,
            hash: this.hash,
            vnodes: this.vnodes,
            previous: { placement: this.placement, nodes: this.nodes },
          }),
    });
  }

  toJSON(): RingSnapshotJSON {
    if (this.hashName === 'custom') fail('hash', 'a ring with a custom hash function cannot be serialised');
    return {
      epoch: this.epoch,
      checksum: this.checksum,
      vnodes: this.vnodes,
      hash: this.hashName,
      ...(this.avalanche ? { avalanche: true } : {}),
      strategy: this.strategy,
      nodes: this.nodes.map(toSpec),
      pins: { ...this.pins },
    };
  }
}

function checksumOf(ring: HashRing): string {
  // Edge identities (server, serverId) join only when set, so rings without them keep their checksums.
  const edge = (n: RingNode) =>
    n.server === undefined && n.serverId === undefined ? '' : `\u0001${n.server ?? ''}\u0001${n.serverId ?? ''}`;
  const members = ring.nodes.map((n) => `${n.id}\u0001${n.url ?? ''}\u0001${n.weight}\u0001${n.status}${edge(n)}`).join('\u0002');
  const pins = Object.keys(ring.pins)
    .sort()
    .map((key) => `${key}\u0001${ring.pins[key]}`)
    .join('\u0002');
  const canonical = `v1\u0003${ring.strategy}\u0003${ring.hashName}${ring.avalanche ? '+avalanche' : ''}\u0003${ring.vnodes}\u0003${members}\u0003${pins}`;
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return hex(murmur3(canonical, 0x52494e47)) + hex(murmur3(canonical, 0x524f5554));
}

const RING_OPTIONS = Object.keys({
  nodes: 1,
  vnodes: 1,
  hash: 1,
  avalanche: 1,
  strategy: 1,
  epoch: 1,
  pins: 1,
  route: 1,
} satisfies Record<keyof RingOptions, 1>);

/** Builds a ring snapshot. Async because xxHash's WebAssembly module is instantiated on first use. */
export async function createRing(options: RingOptions): Promise<Ring> {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object with a nodes array');
  checkKnownOptions(options, RING_OPTIONS);
  const nodes = resolveNodes(options.nodes);
  const { vnodes, strategy, hash: chosen, avalanche, route } = resolveRingParams(options);
  const epoch = options.epoch === undefined ? 0 : checkNumber('epoch', options.epoch, { min: 0, integer: true });
  const pins = options.pins ?? {};
  for (const [key, target] of Object.entries(pins)) if (typeof target !== 'string') fail(`pins.${key}`, 'must be a node id');

  const hashName = typeof chosen === 'function' ? 'custom' : chosen;
  const base = typeof chosen === 'function' ? chosen : await loadHash(chosen);
  const hash = avalanche ? (key: string) => fullHash(base(key)) : base;
  const placement = STRATEGIES[strategy]({ nodes, hash, vnodes });
  return new HashRing({ epoch, nodes, vnodes, hash, hashName, avalanche, strategy, pins, route, placement });
}

/** Recreates a ring from its JSON form (a membership snapshot, or the ring a client fetched). */
export function ringFromJSON(json: RingSnapshotJSON, extra: Pick<RingOptions, 'route'> = {}): Promise<Ring> {
  return createRing({
    nodes: json.nodes as NodeSpec[],
    vnodes: json.vnodes,
    hash: json.hash,
    avalanche: json.avalanche ?? false,
    strategy: json.strategy,
    epoch: json.epoch,
    pins: json.pins,
    ...extra,
  });
}
