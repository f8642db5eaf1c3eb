import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Membership } from '@ringroute/ring-core';
import { EtcdMembership } from '@ringroute/ring-core/etcd';
import { SpawnedEtcd } from '../../ring-core/test/etcd/harness.js';
import { converge, keyOwnedBy, nodeSpecs, SCHEDULING_MARGIN, startNode, waitFor, type TestNode } from './helpers.js';

const SYNC_INTERVAL = 500;
/** Also the TTL of each member's lease (2 s: a loaded 2-core CI machine can stall a 1 s lease's renewals). */
const FAILURE_TIMEOUT = 2000;
/** Longer than failure detection needs to evict a silent member (2 x FAILURE_TIMEOUT). */
const OUTAGE = 2.5 * FAILURE_TIMEOUT;

interface Outcome {
  status: number;
  body?: string;
  node?: string;
  owner?: string;
  reason?: string;
}

describe('etcd killed with SIGKILL and restarted on the same data (3 Fastify nodes under load)', () => {
  const etcd = new SpawnedEtcd();
  const cluster = `fastify-etcd-${process.pid}`;
  let nodes: TestNode[] = [];
  const membership = (spec: TestNode['spec']) =>
    new EtcdMembership({ etcd: etcd.url, cluster, self: spec, syncInterval: SYNC_INTERVAL, failureTimeout: FAILURE_TIMEOUT });

  beforeAll(async () => {
    await etcd.start();
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.app.close()));
    await etcd.destroy();
  });

  it('keeps routing, evicts nobody, and admits a node that joined during the outage within 2 heartbeats', async () => {
    const specs = await nodeSpecs(4);
    const [late, ...first] = [specs[3]!, ...specs.slice(0, 3)];
    nodes = await Promise.all(first.map(({ spec, port }) => startNode(spec, port, membership(spec), { misroute: 'proxy' })));
    await converge(
      nodes.map((n) => n.membership),
      ['n0', 'n1', 'n2'],
    );
    const evictions: string[] = [];
    const watch = (m: Membership) =>
      m
        .on('left', (node, reason) => evictions.push(`${node.id}:${reason}`))
        .on('status', (node, _from, to) => evictions.push(`${node.id}:${to}`));
    for (const node of nodes) watch(node.membership);

    // Steady load: keys owned by each of the three, sent to every node in turn; each answer must come from its owner.
    const serving = [...nodes];
    const keys = nodes.flatMap((n) => [0, 1, 2].map((i) => keyOwnedBy(n.membership, n.spec.id, `etcd-${i}`)));
    const outcomes: Outcome[] = [];
    let loading = true;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const via = serving[i % serving.length]!;
        const key = keys[i % keys.length]!;
        const response = await fetch(`${via.spec.url}/doc?key=${key}`);
        // A failure keeps its answer, so that the assertion below says what went wrong.
        outcomes.push(
          response.ok
            ? { ...((await response.json()) as Omit<Outcome, 'status'>), status: response.status }
            : { status: response.status, body: await response.text() },
        );
      }
    })();

    await waitFor(() => outcomes.length > 50, 'load before the outage');
    const beforeOutage = outcomes.length;
    await etcd.kill();
    await waitFor(() => nodes.every((n) => n.membership.degraded), 'degraded');
    // A node joining now waits for etcd; the others keep routing on their last ring.
    const joiner = await startNode(late.spec, late.port, membership(late.spec), { misroute: 'proxy' });
    watch(joiner.membership);
    await new Promise((r) => setTimeout(r, OUTAGE));
    const duringOutage = outcomes.length - beforeOutage;

    await etcd.start();
    const back = performance.now();
    const all = [...nodes, joiner];
    nodes = all;
    await converge(
      all.map((n) => n.membership),
      ['n0', 'n1', 'n2', 'n3'],
    );
    const admittedAfter = performance.now() - back;

    await new Promise((r) => setTimeout(r, 2 * FAILURE_TIMEOUT)); // detection runs again
    loading = false;
    await load;

    expect(admittedAfter).toBeLessThanOrEqual(2 * SYNC_INTERVAL + SCHEDULING_MARGIN);
    expect(evictions).toEqual([]);
    expect(all.every((n) => !n.membership.degraded)).toBe(true);
    expect(new Set(all.map((n) => n.membership.ring.checksum)).size).toBe(1);
    expect(duringOutage).toBeGreaterThan(20); // the load went on through the outage
    // Zero routing errors: every answer is a 200 from the owner of its key (n3 takes over some keys once it joins).
    const errors = outcomes.filter((o) => o.status !== 200 || o.node !== o.owner || o.reason !== 'owner');
    expect(errors).toEqual([]);
  }, 30_000);
});
