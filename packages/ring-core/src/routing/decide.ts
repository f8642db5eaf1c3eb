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
  | 'no-url';

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
  return { action: policy, owner, epoch, reason: 'not-owner' };
}
