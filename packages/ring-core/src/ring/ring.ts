import { checkNumber, checkOneOf, fail } from '../errors.js';
import { murmur3 } from '../hash/murmur3.js';
import { HASH_NAMES, loadHash } from '../hash/index.js';
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

interface RingState {
  epoch: number;
  nodes: readonly RingNode[];
  vnodes: number;
  hash: HashFunction;
  hashName: HashName | 'custom';
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
  readonly pins: Readonly<Record<string, string>>;
  readonly checksum: string;
  private readonly hash: HashFunction;
  private readonly route: RoutingFunction | undefined;
  private readonly placement: Placement;
  private readonly routable: Uint8Array;
  private readonly index: ReadonlyMap<string, number>;
  private readonly hasOverrides: boolean;

  constructor(state: RingState) {
    this.epoch = state.epoch;
    this.nodes = Object.freeze([...state.nodes]);
    this.vnodes = state.vnodes;
    this.strategy = state.strategy;
    this.hashName = state.hashName;
    this.pins = Object.freeze({ ...state.pins });
    this.hash = state.hash;
    this.route = state.route;
    this.placement = state.placement;
    this.routable = Uint8Array.from(this.nodes, (node) => (isRoutable(node) ? 1 : 0));
    this.index = new Map(this.nodes.map((node, i) => [node.id, i]));
    this.hasOverrides = this.route !== undefined || Object.keys(this.pins).length > 0;
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
      // Fast path: the placement's first choice, when it is routable.
      const first = this.placement.first(this.hash(key) >>> 0);
      if (first >= 0 && this.routable[first] === 1) return this.nodes[first];
    }
    const { value } = this.candidates(key).next();
    return value && isRoutable(value) ? value : undefined;
  }

  owners(key: string, n: number): RingNode[] {
    const out: RingNode[] = [];
    if (n <= 0) return out;
    for (const node of this.candidates(key)) {
      if (!isRoutable(node)) break; // routable candidates come first
      out.push(node);
      if (out.length === n) break;
    }
    return out;
  }

  *candidates(key: string): IterableIterator<RingNode> {
    const seen = new Uint8Array(this.nodes.length);
    const later: number[] = [];
    let yielded = 0;
    const offer = function* (this: HashRing, i: number | undefined) {
      if (i === undefined || i < 0 || seen[i] === 1) return;
      seen[i] = 1;
      if (this.routable[i] === 1) {
        yielded++;
        yield this.nodes[i]!;
      } else later.push(i);
    }.bind(this);

    const pinned = this.pins[key];
    if (pinned !== undefined) yield* offer(this.index.get(pinned));
    if (this.route) {
      const chosen = this.route(key, this.nodes);
      if (chosen != null) yield* offer(this.index.get(typeof chosen === 'string' ? chosen : chosen.id));
    }
    for (const i of this.placement.walk(this.hash(key) >>> 0)) {
      yield* offer(i);
      if (yielded + later.length === this.nodes.length) break;
    }
    // Nodes without any placement share (weight 0) still belong to the chain, after the others.
    for (let i = 0; i < this.nodes.length; i++) yield* offer(i);
    for (const i of later) yield this.nodes[i]!;
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
      strategy: this.strategy,
      nodes: this.nodes.map(toSpec),
      pins: { ...this.pins },
    };
  }
}

function checksumOf(ring: HashRing): string {
  const members = ring.nodes.map((n) => `${n.id}\u0001${n.url ?? ''}\u0001${n.weight}\u0001${n.status}`).join('\u0002');
  const pins = Object.keys(ring.pins)
    .sort()
    .map((key) => `${key}\u0001${ring.pins[key]}`)
    .join('\u0002');
  const canonical = `v1\u0003${ring.strategy}\u0003${ring.hashName}\u0003${ring.vnodes}\u0003${members}\u0003${pins}`;
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return hex(murmur3(canonical, 0x52494e47)) + hex(murmur3(canonical, 0x524f5554));
}

/** Builds a ring snapshot. Async because xxHash's WebAssembly module is instantiated on first use. */
export async function createRing(options: RingOptions): Promise<Ring> {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object with a nodes array');
  const nodes = resolveNodes(options.nodes);
  const vnodes = options.vnodes === undefined ? 150 : checkNumber('vnodes', options.vnodes, { min: 1, max: 10_000, integer: true });
  const strategy = options.strategy === undefined ? 'ring' : checkOneOf('strategy', options.strategy, Object.keys(STRATEGIES) as StrategyName[]);
  const epoch = options.epoch === undefined ? 0 : checkNumber('epoch', options.epoch, { min: 0, integer: true });
  if (options.route !== undefined && typeof options.route !== 'function') fail('route', 'must be a function');
  const pins = options.pins ?? {};
  for (const [key, target] of Object.entries(pins)) if (typeof target !== 'string') fail(`pins.${key}`, 'must be a node id');

  let hash: HashFunction;
  let hashName: HashName | 'custom';
  if (typeof options.hash === 'function') {
    hash = options.hash;
    hashName = 'custom';
  } else {
    hashName = options.hash === undefined ? 'xxh32' : checkOneOf('hash', options.hash, HASH_NAMES);
    hash = await loadHash(hashName);
  }
  const placement = STRATEGIES[strategy]({ nodes, hash, vnodes });
  return new HashRing({ epoch, nodes, vnodes, hash, hashName, strategy, pins, route: options.route, placement });
}

/** Recreates a ring from its JSON form (a membership snapshot, or the ring a client fetched). */
export function ringFromJSON(json: RingSnapshotJSON, extra: Pick<RingOptions, 'route'> = {}): Promise<Ring> {
  return createRing({
    nodes: json.nodes as NodeSpec[],
    vnodes: json.vnodes,
    hash: json.hash,
    strategy: json.strategy,
    epoch: json.epoch,
    pins: json.pins,
    ...extra,
  });
}
