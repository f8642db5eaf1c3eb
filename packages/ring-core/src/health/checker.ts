import { checkKnownOptions, checkNumber, checkString, fail } from '../errors.js';
import type { RingNode } from '../types.js';
import { httpProbe, type Probe } from './http.js';

export type { Probe };

/** The SmartRoute seed's `healthCheck` options. */
export interface HealthCheckOptions {
  /** ms between probes of a healthy node. Default 5000. */
  interval?: number;
  /** ms before a probe counts as failed. Default 3000. */
  timeout?: number;
  /** Failed probes after the first before a suspected node is declared dead. Default 3. */
  retries?: number;
  /** Each consecutive failure multiplies the delay before the next probe by this. Default 2. */
  backoffMultiplier?: number;
  /** Cap on that delay (ms). Default 30000. */
  maxBackoff?: number;
  /**
   * 'http' (default): GET `path` on the node's url, healthy on a 2xx. A function for anything else, e.g.
   * `tcpProbe()` from `@ringroute/ring-core/node`. Nodes without a url are not probed.
   */
  probe?: 'http' | Probe;
  /** Path of the HTTP probe. Default '/health'. */
  path?: string;
}

const HEALTH_CHECK_OPTIONS = Object.keys({
  interval: 1,
  timeout: 1,
  retries: 1,
  backoffMultiplier: 1,
  maxBackoff: 1,
  probe: 1,
  path: 1,
} satisfies Record<keyof HealthCheckOptions, 1>);

export type ProbeVerdict = 'alive' | 'suspected' | 'dead';

interface Target {
  node: RingNode;
  failures: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Probes nodes on their own schedules: every `interval` while healthy; after a failure the node is suspected and
 * probed again with exponential backoff (capped at `maxBackoff`); after `retries` more failures it is dead. One
 * passing probe makes it alive again. The checker only reports verdicts; the membership applies them.
 */
export class HealthChecker {
  readonly interval: number;
  readonly timeout: number;
  readonly retries: number;
  readonly backoffMultiplier: number;
  readonly maxBackoff: number;
  private readonly probe: Probe;
  private readonly targets = new Map<string, Target>();
  private report: ((node: RingNode, verdict: ProbeVerdict) => void) | undefined;
  private counters = { probes: 0, failures: 0 };

  constructor(options: HealthCheckOptions = {}, field = 'healthCheck') {
    if (options === null || typeof options !== 'object') fail(field, 'must be an object');
    checkKnownOptions(options, HEALTH_CHECK_OPTIONS, field);
    const num = (name: keyof HealthCheckOptions, fallback: number, min: number, integer = false) =>
      options[name] === undefined ? fallback : checkNumber(`${field}.${name}`, options[name], { min, max: 86_400_000, integer });
    this.interval = num('interval', 5000, 1);
    this.timeout = num('timeout', 3000, 1);
    this.retries = num('retries', 3, 0, true);
    this.backoffMultiplier = num('backoffMultiplier', 2, 1);
    this.maxBackoff = num('maxBackoff', 30_000, this.interval);
    const probe = options.probe ?? 'http';
    if (probe === 'http') {
      const path = options.path === undefined ? '/health' : checkString(`${field}.path`, options.path);
      if (!path.startsWith('/')) fail(`${field}.path`, `must start with "/" (got ${JSON.stringify(path)})`);
      this.probe = httpProbe(path);
    } else if (typeof probe === 'function') {
      if (options.path !== undefined) fail(`${field}.path`, "only applies to the 'http' probe");
      this.probe = probe;
    } else fail(`${field}.probe`, `must be 'http' or a function (got ${JSON.stringify(probe)})`);
  }

  /** Starts reporting verdicts. */
  start(report: (node: RingNode, verdict: ProbeVerdict) => void): void {
    this.report = report;
  }

  /** Probes exactly these nodes from now on: new ones at once, dropped ones never again. */
  sync(nodes: readonly RingNode[]): void {
    if (!this.report) return;
    const wanted = new Map(nodes.filter((n) => n.url !== undefined).map((n) => [n.id, n]));
    for (const [id, target] of this.targets) {
      if (!wanted.has(id) || wanted.get(id)!.url !== target.node.url) {
        clearTimeout(target.timer);
        this.targets.delete(id);
      }
    }
    for (const [id, node] of wanted) {
      const target = this.targets.get(id);
      if (target) target.node = node;
      else {
        const fresh: Target = { node, failures: 0, timer: undefined };
        this.targets.set(id, fresh);
        void this.check(fresh);
      }
    }
  }

  stop(): void {
    this.report = undefined;
    for (const target of this.targets.values()) clearTimeout(target.timer);
    this.targets.clear();
  }

  stats(): { probes: number; failures: number } {
    return { ...this.counters };
  }

  private async check(target: Target): Promise<void> {
    const healthy = await this.probeOnce(target.node);
    if (this.targets.get(target.node.id) !== target || !this.report) return; // dropped meanwhile
    this.counters.probes++;
    if (healthy) target.failures = 0;
    else {
      target.failures++;
      this.counters.failures++;
    }
    this.report(target.node, healthy ? 'alive' : target.failures > this.retries ? 'dead' : 'suspected');
    const delay = healthy ? this.interval : Math.min(this.interval * this.backoffMultiplier ** target.failures, this.maxBackoff);
    target.timer = setTimeout(() => void this.check(target), delay);
    (target.timer as { unref?: () => void }).unref?.();
  }

  private async probeOnce(node: RingNode): Promise<boolean> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The race also covers probes that ignore the signal.
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error('probe timed out'));
      }, this.timeout);
    });
    try {
      await Promise.race([this.probe(node, controller.signal), timedOut]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
