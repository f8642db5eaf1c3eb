import type { MisroutePolicy } from '@ringroute/ring-core';
import { DemoCluster } from './cluster.js';
import { Dashboard, TRACKED_KEYS } from './dashboard.js';
import { probe, type Probe } from './probe.js';

export interface DemoOptions {
  host?: string;
  /** Dashboard port; nodes take the next ones. 0 = free ports (tests). Default 4000. */
  port?: number;
  nodes?: number;
  misroute?: MisroutePolicy;
  /** Use Redis membership (RedisMembership) instead of the in-process bus. */
  redisUrl?: string | undefined;
  /** Cluster name in Redis. Default 'ringroute-demo'. */
  redisCluster?: string;
  /** Start the traffic generator. Default true. */
  traffic?: boolean;
  /** Told why the cluster is not up yet (e.g. Redis not answering), once per reason; the start keeps trying. */
  onWaiting?: (reason: string) => void;
  /** Aborting it stops a start that is still waiting: startDemo() then rejects. */
  signal?: AbortSignal;
}

export interface Demo {
  cluster: DemoCluster;
  dashboard: Dashboard;
  close(): Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 4000;
  const cluster = new DemoCluster({
    host,
    basePort: port === 0 ? 0 : port + 1,
    misroute: options.misroute ?? 'redirect',
    redisUrl: options.redisUrl,
    redisCluster: options.redisCluster,
  });
  const abort = () => void cluster.close();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await cluster.start(options.nodes ?? 3, options.onWaiting);
  } catch (error) {
    await cluster.close();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  const dashboard = new Dashboard({ cluster, host, port, traffic: options.traffic });
  try {
    await dashboard.start();
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return {
    cluster,
    dashboard,
    async close() {
      await dashboard.close();
      await cluster.close();
    },
  };
}

export interface KeyReport {
  key: string;
  owner: string | undefined;
  /** What a request for the key gets from a node that does not own it. */
  nonOwner: Probe | undefined;
}

/** For a few sample keys: the owner, and the real answer a non-owner gives. */
export async function sampleKeys(demo: Demo, keys: readonly string[] = TRACKED_KEYS.slice(0, 5)): Promise<KeyReport[]> {
  const ring = demo.cluster.observer.ring;
  return Promise.all(
    keys.map(async (key) => {
      const owner = ring.owner(key)?.id;
      const other = [...demo.cluster.nodes.values()].find((node) => node.id !== owner);
      return { key, owner, nonOwner: other ? await probe(other, key) : undefined };
    }),
  );
}
