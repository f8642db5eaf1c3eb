import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MembershipStats } from '../membership/types.js';
import type { Ring } from '../types.js';

type Labels = Record<string, string>;
export type Samples = readonly (readonly [Labels, number])[];

/** Metrics whose values are read at scrape time (`read`), labelled with this node; counters and gauges alike. */
export function collected(registry: Registry, node: string) {
  const config = (name: string, help: string, labels: string[]) => ({ name, help, labelNames: ['node', ...labels], registers: [registry] });
  const labelled = (read: () => Samples) => read().map(([labels, value]) => [{ node, ...labels }, value] as const);
  return {
    counter: (name: string, help: string, labels: string[], read: () => Samples) =>
      new Counter({
        ...config(name, help, labels),
        collect() {
          this.reset();
          for (const [l, v] of labelled(read)) this.inc(l, v);
        },
      }),
    gauge: (name: string, help: string, labels: string[], read: () => Samples) =>
      new Gauge({
        ...config(name, help, labels),
        collect() {
          this.reset();
          for (const [l, v] of labelled(read)) this.set(l, v);
        },
      }),
  };
}

/** What the metrics read at scrape time (the router): nothing is counted twice. */
export interface MetricsSource {
  readonly ring: Ring | undefined;
  readonly ready: boolean;
  readonly counters: {
    local: number;
    redirect: number;
    proxy: number;
    refuse: number;
    misrouted: number;
    errorsByReason: Record<string, number>;
    hops: number[];
  };
  membershipStats(): MembershipStats;
  shares(): Map<string, number>;
  ejection(): { ejections: number; ejected: string[] };
}

const ACTIONS = ['local', 'redirect', 'proxy', 'refuse'] as const;

/**
 * RingRoute's metrics through prom-client, in the app's registry when it passes one (`registry` option), else in a
 * registry of their own that `<prefix>/metrics` serves. Counters live in the router; these read them on collect.
 */
export class RouterMetrics {
  readonly registry: Registry;
  private readonly latency: Histogram<'node' | 'outcome'>;

  constructor(registry: Registry | undefined, node: string, source: MetricsSource) {
    this.registry = registry ?? new Registry();
    const { counter, gauge } = collected(this.registry, node);
    const { counters } = source;

    counter('ringroute_decisions_total', 'Routed requests by action.', ['action'], () =>
      ACTIONS.map((action) => [{ action }, counters[action]]),
    );
    counter('ringroute_errors_total', 'Requests answered with an error, by reason.', ['reason'], () =>
      Object.entries(counters.errorsByReason).map(([reason, n]) => [{ reason }, n]),
    );
    counter('ringroute_misrouted_total', 'Requests that arrived at a node that does not own their key.', [], () => [
      [{}, counters.misrouted],
    ]);
    counter('ringroute_hops_total', 'Routed requests by hops made before reaching this node (3 = 3 or more).', ['hops'], () =>
      counters.hops.map((n, hops) => [{ hops: String(hops) }, n]),
    );
    counter('ringroute_ejections_total', 'Nodes ejected from proxying after consecutive failures (passive health).', [], () => [
      [{}, source.ejection().ejections],
    ]);
    gauge('ringroute_ejected_nodes', 'Nodes currently ejected by passive health.', [], () => [[{}, source.ejection().ejected.length]]);
    gauge('ringroute_ready', '1 once the membership has its first ring.', [], () => [[{}, source.ready ? 1 : 0]]);
    gauge('ringroute_ring_epoch', 'Epoch of the current ring.', [], () => [[{}, source.ring?.epoch ?? 0]]);
    gauge('ringroute_ring_members', 'Members of the current ring by status.', ['status'], () => {
      const byStatus = new Map<string, number>();
      for (const n of source.ring?.nodes ?? []) byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1);
      return [...byStatus].map(([status, n]) => [{ status }, n]);
    });
    gauge('ringroute_node_share', 'Share of a fixed key sample owned by each member.', ['member'], () =>
      [...source.shares()].map(([member, s]) => [{ member }, s]),
    );
    gauge('ringroute_membership_degraded', '1 while the membership backend is unreachable.', [], () => [
      [{}, source.membershipStats().degraded ? 1 : 0],
    ]);
    counter('ringroute_membership_applied_total', 'Ring changes applied.', [], () => [[{}, source.membershipStats().applied]]);
    counter('ringroute_membership_dropped_total', 'Membership messages refused, by reason.', ['reason'], () =>
      Object.entries(source.membershipStats().dropped).map(([reason, n]) => [{ reason }, n]),
    );
    counter('ringroute_membership_resyncs_total', 'Full resynchronisations of the shared snapshot.', [], () => [
      [{}, source.membershipStats().resyncs],
    ]);
    this.latency = new Histogram({
      name: 'ringroute_proxy_duration_seconds',
      help: 'Time to the owner response headers (or the failure) per proxy attempt, by outcome.',
      labelNames: ['node', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.latency.zero({ node, outcome: 'sent' });
    this.node = node;
  }

  private readonly node: string;
  /** One labelled child per outcome: observing through it skips hashing the labels on every request. */
  private readonly byOutcome = new Map<string, { observe(value: number): void }>();

  observeProxy(seconds: number, outcome: string): void {
    let child = this.byOutcome.get(outcome);
    if (child === undefined) this.byOutcome.set(outcome, (child = this.latency.labels({ node: this.node, outcome })));
    child.observe(seconds);
  }
}
