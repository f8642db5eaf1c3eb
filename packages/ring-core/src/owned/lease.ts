import type { Membership } from '../membership/types.js';

const clock = () => performance.now();

/**
 * Ownership on a lease: a node's heartbeats keep it in the ring, and the others take its keys only after
 * 2 x failureTimeout of silence. A process that stalled (SIGSTOP, a long GC, a starved CPU) may have lost that lease
 * without knowing it, and the first requests after it resumes run before any timer. So after a gap longer than
 * `slack` (half the failure timeout), `confirm()` catches up with the store before the node acts on its ring again.
 * SmartRoute's document fence is the same idea.
 */
export class Lease {
  private lastTick = clock();
  private stalled = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private confirming: Promise<void> | undefined;
  /** Longer than this between two ticks (ms), and the lease may have run out meanwhile. */
  readonly slack: number;

  constructor(private readonly membership: Pick<Membership, 'sync' | 'failureTimeout'>) {
    this.slack = (membership.failureTimeout ?? 2000) / 2;
  }

  start(): void {
    this.lastTick = clock();
    this.timer = setInterval(() => this.tick(), Math.max(10, this.slack / 2));
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether this node may act on its ring without asking the store first. */
  get fresh(): boolean {
    return !this.stalled && clock() - this.lastTick <= this.slack;
  }

  /**
   * Resolves once this node may act on its ring: at once while the lease is fresh, else after catching up. Rejects
   * when the store cannot be reached (the lease stays unconfirmed).
   */
  confirm(): Promise<void> {
    if (this.fresh) return Promise.resolve();
    this.confirming ??= (async () => {
      try {
        await this.membership.sync?.();
        this.stalled = false;
        this.lastTick = clock();
      } finally {
        this.confirming = undefined;
      }
    })();
    return this.confirming;
  }

  private tick(): void {
    const now = clock();
    if (now - this.lastTick > this.slack) this.stalled = true;
    this.lastTick = now;
  }
}
