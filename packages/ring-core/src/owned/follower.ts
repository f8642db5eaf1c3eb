import type { ClusterMessage, LeaveReason, Membership } from '../membership/types.js';
import type { Ring, RingNode } from '../types.js';
import type { Context } from './context.js';
import type { Sender } from './sender.js';

/** The cluster message a node sends once it holds nothing its ring (this token) gives to others. */
export const SETTLED = 'ringroute:handoff:settled';

/**
 * Follows the membership for the engine: records every ring in the ledger, rescans what this node holds after each
 * change (once the change's node events are in: a node declared failed drops what it held instead of sending it),
 * announces when everything the ring gives away has been handed over, and hears the others' announcements.
 */
export class Follower {
  private scanning: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<() => void>();
  private stopped = false;
  /** This node was declared failed: what it held is stale until it is a member again. */
  private fenced = false;
  /** The last token this node announced as settled. */
  announced = -1;

  constructor(
    private readonly membership: Membership,
    private readonly context: Context,
    private readonly sender: Sender,
    /** Called for each announcement this node makes. */
    private readonly onSettled: (token: number) => void,
  ) {}

  start(): void {
    this.membership.on('ring', this.onRing).on('left', this.onLeft).on('status', this.onStatus).on('joined', this.onJoined);
    this.membership.on('message', this.onMessage);
    if (this.membership.ready) this.onRing(this.membership.ring);
  }

  stop(): void {
    this.stopped = true;
    this.membership.off('ring', this.onRing).off('left', this.onLeft).off('status', this.onStatus).off('joined', this.onJoined);
    this.membership.off('message', this.onMessage);
  }

  /** Resolves once the rescans queued so far are done. */
  get scanned(): Promise<void> {
    return this.scanning;
  }

  /** Rescans what this node holds (after a ring change, or a new state); then announces once nothing is moving. */
  rescan(token: number): void {
    const { ledger } = this.context;
    this.scanning = this.scanning
      .then(async () => {
        if (this.stopped || ledger.ring === undefined) return;
        if (this.fenced) await this.sender.dropAll();
        else await this.sender.scan();
      })
      .catch((error: unknown) => this.context.log.error({ err: error }, 'ringroute: owned state could not follow a ring change'));
    void this.scanning.then(() => this.sender.scheduler.idle()).then(() => token === ledger.token && this.announce(token));
  }

  announce(token: number): void {
    if (token <= this.announced || this.stopped || this.context.spaces.size === 0) return;
    this.announced = token;
    this.membership.broadcast(SETTLED, { token }).catch(() => {}); // a degraded store: others ask this node directly
    this.onSettled(token);
  }

  /** Resolves when the handoff is idle, the ring changes, or after `ms`. */
  async idleOrChanged(ms: number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waiters.add(wake);
    const timer = setTimeout(wake, Math.max(0, ms));
    await Promise.race([woken, this.sender.scheduler.idle()]);
    clearTimeout(timer);
    this.waiters.delete(wake);
  }

  private readonly onRing = (ring: Ring): void => {
    const token = this.membership.token ?? ring.epoch;
    this.context.ledger.observe(ring, token);
    this.rescan(token);
    for (const wake of this.waiters) wake();
  };

  private readonly onLeft = (node: RingNode, reason: LeaveReason): void => {
    this.context.ledger.left(node, reason);
    // Declared failed (or gone in a reload): others may already serve its keys. Drained by an operator: it hands them over.
    if (node.id === this.context.self && reason !== 'removed' && reason !== 'graceful') this.fenced = true;
  };

  private readonly onStatus = (node: RingNode): void => {
    this.context.ledger.status(node);
    if (node.id === this.context.self && node.status === 'dead') this.fenced = true;
    if (node.id === this.context.self && node.status === 'alive') this.rejoined();
  };

  private readonly onJoined = (node: RingNode): void => {
    this.context.ledger.joined(node);
    if (node.id === this.context.self) this.rejoined();
  };

  private rejoined(): void {
    this.fenced = false;
    this.sender.fenced = false;
  }

  private readonly onMessage = ({ type, data, from }: ClusterMessage): void => {
    const token = (data as { token?: unknown } | null)?.token;
    if (type === SETTLED && from !== undefined && Number.isSafeInteger(token)) this.context.ledger.settled(from, token as number);
  };
}
