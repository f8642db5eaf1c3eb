import { checkKnownOptions, checkNumber, fail } from '../errors.js';
import { httpProbe, type Probe } from '../health/http.js';
import { tcpProbe } from '../node/tcp.js';
import type { Ring, RingNode } from '../types.js';

/** Passive health (outlier ejection): what proxy failures take a node out of rotation on this router, and for how long. */
export interface EjectionOptions {
  /** Consecutive connection errors or timeouts that eject a node. Default 3. */
  failures?: number;
  /** ms before the first probe of an ejected node; doubles after each failed probe, up to 60 s. Default 5000. */
  backoff?: number;
  /** How an ejected node is probed before it returns: 'tcp' (connect, the default), 'http' (GET /health), or a function. */
  probe?: 'tcp' | 'http' | Probe;
}

export interface ResolvedEjection {
  failures: number;
  backoff: number;
  probe: Probe;
}

const MAX_BACKOFF = 60_000;

/** Validates the `ejection` option; `false` turns passive health off. */
export function resolveEjection(value: EjectionOptions | false | undefined): ResolvedEjection | undefined {
  if (value === false) return undefined;
  const options = value ?? {};
  if (options === null || typeof options !== 'object') fail('ejection', 'must be false or an object { failures?, backoff?, probe? }');
  checkKnownOptions(options, ['failures', 'backoff', 'probe'], 'ejection');
  const probe = options.probe ?? 'tcp';
  if (probe !== 'tcp' && probe !== 'http' && typeof probe !== 'function')
    fail('ejection.probe', `must be 'tcp', 'http' or a function (got ${JSON.stringify(probe)})`);
  return {
    failures: options.failures === undefined ? 3 : checkNumber('ejection.failures', options.failures, { min: 1, max: 1000, integer: true }),
    backoff:
      options.backoff === undefined ? 5000 : checkNumber('ejection.backoff', options.backoff, { min: 10, max: MAX_BACKOFF, integer: true }),
    probe: probe === 'tcp' ? tcpProbe() : probe === 'http' ? httpProbe('/health') : probe,
  };
}

interface Ejected {
  backoff: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Local outlier ejection (Envoy outlier detection, HAProxy `observe layer4`): consecutive failures to reach a node
 * eject it from this router's proxy rotation; it returns after a probe passes. The ring is never changed, so the
 * other routers and the membership decide nothing from one router's view.
 */
export class Ejector {
  private readonly failures = new Map<string, number>();
  private readonly ejected = new Map<string, Ejected>();
  /** Nodes ejected so far (a counter). */
  ejections = 0;

  constructor(
    private readonly options: ResolvedEjection,
    /** The current ring, read when a probe is due (the node's URL may have changed). */
    private readonly ring: () => Ring | undefined,
  ) {}

  get size(): number {
    return this.ejected.size;
  }

  isEjected(id: string): boolean {
    return this.ejected.has(id);
  }

  /** Ids currently ejected. */
  list(): string[] {
    return [...this.ejected.keys()];
  }

  success(id: string): void {
    if (this.failures.size > 0) this.failures.delete(id);
  }

  failure(node: RingNode): void {
    if (this.ejected.has(node.id)) return;
    const count = (this.failures.get(node.id) ?? 0) + 1;
    if (count < this.options.failures) return void this.failures.set(node.id, count);
    this.failures.delete(node.id);
    this.ejections++;
    this.schedule(node.id, this.options.backoff);
  }

  close(): void {
    for (const { timer } of this.ejected.values()) clearTimeout(timer);
    this.ejected.clear();
    this.failures.clear();
  }

  private schedule(id: string, backoff: number): void {
    const timer = setTimeout(() => void this.probe(id, backoff), backoff);
    timer.unref?.();
    this.ejected.set(id, { backoff, timer });
  }

  private async probe(id: string, backoff: number): Promise<void> {
    const node = this.ring()?.node(id);
    if (node?.url === undefined) return void this.ejected.delete(id); // gone from the ring: nothing to eject
    const signal = AbortSignal.timeout(Math.min(backoff, 2000));
    const healthy = await this.options.probe(node, signal).then(
      () => true,
      () => false,
    );
    if (!this.ejected.has(id)) return; // closed meanwhile
    if (healthy) this.ejected.delete(id);
    else this.schedule(id, Math.min(backoff * 2, MAX_BACKOFF));
  }
}
