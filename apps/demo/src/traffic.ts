import { keyPath } from './probe.js';

/** Sends a steady stream of keyed requests to random nodes (following redirects once, like a client would). */
export class TrafficGenerator {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sent = 0;
  private windowStart = Date.now();
  private lastRate = 0;

  constructor(
    private readonly targets: () => readonly { url: string }[],
    private readonly perSecond = 25,
    private readonly keys = Array.from({ length: 400 }, (_, i) => `user-${i}`),
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Requests sent per second over the last full second. */
  get rate(): number {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.lastRate = Math.round((this.sent * 1000) / (now - this.windowStart));
      this.sent = 0;
      this.windowStart = now;
    }
    return this.running ? this.lastRate : 0;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), 1000 / this.perSecond);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    const targets = this.targets();
    if (targets.length === 0) return;
    const target = targets[Math.floor(Math.random() * targets.length)]!;
    const key = this.keys[Math.floor(Math.random() * this.keys.length)]!;
    this.sent++;
    try {
      const res = await fetch(`${target.url}${keyPath(key)}`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (location) await (await fetch(location, { redirect: 'manual', signal: AbortSignal.timeout(2000) })).arrayBuffer();
    } catch {
      // A node killed mid-request: exactly what the dashboard is there to show; the next tick goes elsewhere.
    }
  }
}
