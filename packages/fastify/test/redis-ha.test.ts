import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisMembership, type RedisMembershipOptions } from '@ringroute/ring-core/redis';
import { RedisClusterProcesses, SentinelProcesses } from '../../ring-core/test/redis/topologies.js';
import { converge, nodeSpecs, SCHEDULING_MARGIN, startNode, waitFor, type TestNode } from './helpers.js';

/** The default heartbeat period: the node joining during the failover must reach every member within 2 of them. */
const SYNC_INTERVAL = 1000;
/** Shorter than either failover (3 to 10 s here): a member that counted the failover as silence would be suspected. */
const FAILURE_TIMEOUT = 2000;
const keys = Array.from({ length: 60 }, (_, i) => `doc-${i}`);

interface Store {
  redis: RedisMembershipOptions['redis'];
  /** kill -9 of the master holding `cluster`'s keys; resolves once another master serves them. */
  failover(cluster: string): Promise<{ killed: Promise<void>; done: Promise<void> }>;
}

/** Requests from a few concurrent clients to the steady nodes, each for a random key, until stopped. */
function steadyLoad(nodes: TestNode[]) {
  const errors: string[] = [];
  let sent = 0;
  let running = true;
  const client = async () => {
    while (running) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const node = nodes[Math.floor(Math.random() * nodes.length)]!;
      sent++;
      try {
        const response = await fetch(`${node.spec.url}/doc?key=${key}`);
        const body = (await response.json()) as { node?: string; owner?: string };
        if (response.status !== 200 || body.node !== body.owner)
          errors.push(`${key} via ${node.spec.id}: ${response.status} ${JSON.stringify(body)}`);
      } catch (error) {
        errors.push(`${key} via ${node.spec.id}: ${(error as Error).message}`);
      }
    }
  };
  const clients = Array.from({ length: 4 }, client);
  return {
    errors,
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

/**
 * Three Fastify nodes under steady load; the Redis master holding the cluster's keys is killed, and a fourth node
 * joins while the store fails over.
 */
async function failoverScenario(store: Store): Promise<void> {
  const cluster = `ha-${randomUUID()}`;
  const specs = await nodeSpecs(4);
  const member = (spec: TestNode['spec']) =>
    new RedisMembership({ redis: store.redis, cluster, self: spec, syncInterval: SYNC_INTERVAL, failureTimeout: FAILURE_TIMEOUT });
  const nodes = await Promise.all(specs.slice(0, 3).map(({ spec, port }) => startNode(spec, port, member(spec), { misroute: 'proxy' })));
  const all = [...nodes];
  try {
    await converge(
      nodes.map((n) => n.membership),
      ['n0', 'n1', 'n2'],
      20_000,
    );
    const evictions: string[] = [];
    const recoveredAt: number[] = [];
    const joinedAt: number[] = [];
    for (const { membership, spec } of nodes) {
      membership.on('left', (node, reason) => evictions.push(`${spec.id} saw ${node.id} leave (${reason})`));
      membership.on('status', (node, from, to) => evictions.push(`${spec.id} saw ${node.id} ${from} -> ${to}`));
      membership.on('recovered', () => recoveredAt.push(Date.now()));
      membership.on('joined', (node) => node.id === 'n3' && joinedAt.push(Date.now()));
    }
    const load = steadyLoad(nodes);
    await waitFor(() => load.sent > 20, 'load before the failover');

    const { killed, done } = await store.failover(cluster);
    await killed;
    const { spec, port } = specs[3]!;
    const joiner = member(spec);
    joiner.on('recovered', () => recoveredAt.push(Date.now())); // its own connection's return counts too
    all.push(await startNode(spec, port, joiner, { misroute: 'proxy' })); // joins in the background
    await done;
    await converge(
      all.map((n) => n.membership),
      ['n0', 'n1', 'n2', 'n3'],
      20_000,
    );
    await new Promise((r) => setTimeout(r, 2 * FAILURE_TIMEOUT)); // failure detection runs on after the failover
    await load.stop();

    expect(load.sent).toBeGreaterThan(100);
    expect({ errors: load.errors, evictions }).toEqual({ errors: [], evictions: [] });
    // Every member lost the store and got it back (the joiner too, when it started before the store was back); the
    // joiner reached all of them within 2 heartbeats of the last return.
    expect(recoveredAt.length).toBeGreaterThanOrEqual(3);
    expect(joinedAt).toHaveLength(3);
    expect(Math.max(...joinedAt) - Math.max(...recoveredAt)).toBeLessThanOrEqual(2 * SYNC_INTERVAL + SCHEDULING_MARGIN);
    const rings = all.map((n) => n.membership.ring);
    expect(new Set(rings.map((r) => r.checksum)).size).toBe(1);
    expect(rings.every((r) => r.nodes.every((n) => n.status === 'alive'))).toBe(true);
  } finally {
    await Promise.all(all.map((n) => n.app.close()));
  }
}

describe('Fastify nodes through a Redis Cluster failover (6 nodes, kill -9 of the master holding the keys)', () => {
  const servers = new RedisClusterProcesses();
  beforeAll(() => servers.start(), 60_000);
  afterAll(() => servers.stop());

  it('routes without an error, evicts nobody, and a node joining during the failover joins everywhere', async () => {
    await failoverScenario({
      redis: { nodes: servers.nodes },
      failover: async (cluster) => {
        const key = `{ringroute:${cluster}}`;
        const port = await servers.masterOf(key);
        const killed = servers.killMasterOf(key).then(() => {});
        return { killed, done: killed.then(() => servers.failedOver(key, port)) };
      },
    });
  }, 60_000);
});

describe('Fastify nodes through a Redis Sentinel failover (master + replica + 3 sentinels, kill -9 of the master)', () => {
  const servers = new SentinelProcesses();
  beforeAll(() => servers.start(), 60_000);
  afterAll(() => servers.stop());

  it('routes without an error, evicts nobody, and a node joining during the failover joins everywhere', async () => {
    await failoverScenario({
      redis: servers.options,
      failover: async () => {
        const port = await servers.masterPort();
        const killed = servers.killMaster().then(() => {});
        return { killed, done: killed.then(() => servers.failedOver(port)) };
      },
    });
  }, 60_000);
});
