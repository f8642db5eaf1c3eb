import { keyPath } from './probe.js';

/** Sends a steady stream of keyed requests to random nodes (following redirects once, like a client would). */
export class TrafficGenerator {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sent = 0;
  private windowStart = Date.now();
  private lastRate = 0;
  /** Requests that failed (network error, timeout or a 5xx) and their latency, since the last read of `quality`. */
  private failed = 0;
  private latencies: number[] = [];
  private lastQuality = { failed: 0, latencyMs: 0 };

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

  /** Failed requests and the mean latency (ms, redirect followed) over the window since the last read. */
  get quality(): { failed: number; latencyMs: number } {
    if (this.latencies.length > 0 || this.failed > 0) {
      const mean = this.latencies.length === 0 ? 0 : this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length;
      this.lastQuality = { failed: this.failed, latencyMs: Math.round(mean * 10) / 10 };
      this.failed = 0;
      this.latencies = [];
    }
    return this.running ? this.lastQuality : { failed: 0, latencyMs: 0 };
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
    const started = performance.now();
    try {
      let res = await fetch(`${target.url}${keyPath(key)}`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (location) {
        res = await fetch(location, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
      }
      if (res.status >= 500) this.failed++;
      else this.latencies.push(performance.now() - started);
    } catch {
      // A node killed mid-request: exactly what the dashboard is there to show; the next tick goes elsewhere.
      this.failed++;
    }
  }
}
