import { isRoutable } from '../ring/nodes.js';
import type { Ring, RingNode } from '../types.js';

/** What to do with a request whose key another node owns. */
export type MisroutePolicy = 'redirect' | 'proxy' | 'refuse';

export type RoutingAction = 'local' | 'redirect' | 'proxy' | 'refuse';

export type DecisionReason =
  /** This node owns the key. */
  | 'owner'
  /** Another node owns the key; the action carries the policy out. */
  | 'not-owner'
  /** Enforcement is off: handle here, but say who the owner is. */
  | 'not-enforced'
  /** The request already made maxHops hops: refuse rather than bounce it again (508). */
  | 'max-hops'
  /** No routable node owns the key (empty ring or every node down): 503. */
  | 'no-owner'
  /** The owner has no configured URL to redirect or proxy to. */
  | 'no-url'
  /** The owner is unavailable (reported unreachable or ejected) and this node is the next candidate. */
  | 'fallback';

export interface DecideOptions {
  /** This node's id. */
  self: string;
  /** Default 'redirect'. */
  policy?: MisroutePolicy;
  /** false = annotate only: always local, with the owner reported. Default true. */
  enforce?: boolean;
  /** Hops the request has made so far (from the hop header or parameter). Default 0. */
  hops?: number;
  /** A request that has made this many hops is refused instead of forwarded. Default 3. */
  maxHops?: number;
  /** Owners known to be unreachable (a proxying node said so, or they are ejected): the next candidate serves. */
  unavailable?: (id: string) => boolean;
}

export interface RoutingDecision {
  action: RoutingAction;
  /** The owner by the ring, or undefined when nothing is routable. */
  owner: RingNode | undefined;
  epoch: number;
  reason: DecisionReason;
}

export const DEFAULT_MAX_HOPS = 3;

/** The routing decision in framework-free terms; adapters only translate it to their responses. */
export function decide(ring: Ring, key: string, options: DecideOptions): RoutingDecision {
  const owner = ring.owner(key);
  const { epoch } = ring;
  if (!owner) return { action: 'refuse', owner, epoch, reason: 'no-owner' };
  if (owner.id === options.self) return { action: 'local', owner, epoch, reason: 'owner' };
  if (options.enforce === false) return { action: 'local', owner, epoch, reason: 'not-enforced' };
  if ((options.hops ?? 0) >= (options.maxHops ?? DEFAULT_MAX_HOPS)) return { action: 'refuse', owner, epoch, reason: 'max-hops' };
  const policy = options.policy ?? 'redirect';
  if (policy !== 'refuse' && owner.url === undefined) return { action: 'refuse', owner, epoch, reason: 'no-url' };
  if (options.unavailable?.(owner.id) && nextCandidate(ring, key, options.unavailable) === options.self)
    return { action: 'local', owner, epoch, reason: 'fallback' };
  return { action: policy, owner, epoch, reason: 'not-owner' };
}

/** The first candidate that is not unavailable; undefined when a non-routable one comes first (no safe fallback). */
function nextCandidate(ring: Ring, key: string, unavailable: (id: string) => boolean): string | undefined {
  for (const node of ring.candidates(key)) {
    if (!isRoutable(node)) return undefined;
    if (!unavailable(node.id)) return node.id;
  }
  return undefined;
}
