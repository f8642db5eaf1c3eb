import { afterAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import pg from 'pg';
import { persistTable } from '../persist.js';
import { DeployedCluster } from './deployed.js';
import { CartWriter, missingItems } from './writer.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The machine's PostgreSQL (user postgres, database test; DATABASE_URL overrides), for `persist: 'postgres'`. */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Detection timing of the deployed nodes: a silent node is suspected after 1 s and removed after 2 s. */
const TIMING = { RINGROUTE_SYNC_INTERVAL: '100', RINGROUTE_FAILURE_TIMEOUT: '1000' };
const CARTS = Array.from({ length: 40 }, (_, i) => `cart-${i}`);

let clusters = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The deployed example (one node per process, Redis membership, proxy mode) behind HAProxy with ports for `ids`,
 * the first three running, and a writer adding items through the balancer.
 */
async function deploy(
  started: Started[],
  name: string,
  appDir: URL,
  ids: string[],
  persist?: Persist,
): Promise<{ cluster: DeployedCluster; writer: CartWriter }> {
  const clusterName = `${name}-handoff-${process.pid}-${Date.now()}-${clusters++}`;
  const cluster = new DeployedCluster(appDir, {
    REDIS_URL,
    RINGROUTE_CLUSTER: clusterName,
    RINGROUTE_SECRET: 'handoff-test-secret',
    MISROUTE: 'proxy',
    ...TIMING,
    ...(persist ? { PERSIST: persist, PERSIST_WRITE: 'through', DATABASE_URL } : {}),
  });
  started.push({ cluster, clusterName, persist });
  await cluster.prepare(ids);
  const first = ids.slice(0, 3);
  await Promise.all(first.map((id) => cluster.node(id).start()));
  await cluster.converged(first);
  const writer = new CartWriter(cluster.url, CARTS);
  writer.start();
  await sleep(1000);
  return { cluster, writer };
}

/** The skus in a cart, read through one node (which proxies to the owner); a 503 (the cart on its way) is read again. */
async function skusVia(url: string, cart: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/carts/${cart}`, { signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    if (res.status === 200) return (JSON.parse(text) as { items: { sku: string }[] }).items.map((item) => item.sku);
    if (res.status !== 503 || attempt === 50) throw new Error(`GET ${url}/carts/${cart} answered ${res.status}: ${text.slice(0, 300)}`);
    await sleep(100);
  }
}

type Persist = 'redis' | 'postgres';

interface Started {
  cluster: DeployedCluster;
  clusterName: string;
  persist: Persist | undefined;
}

/** Stops every process and deletes what the scenario left in the persist store. */
async function cleanup(started: Started[]): Promise<void> {
  for (const { cluster, clusterName, persist } of started) {
    await cluster.close();
    if (persist === 'redis') {
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`ringroute:${clusterName}:owned:*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    }
    if (persist === 'postgres') {
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
      try {
        await pool.query(`DROP TABLE IF EXISTS "${persistTable(clusterName)}"`);
      } finally {
        await pool.end();
      }
    }
  }
}

/**
 * The cart examples' handoff scenario, the same for every framework: the app deployed as in deploy/ (one node per
 * process, Redis membership with a secret, proxy mode, `persist` through Redis or PostgreSQL with
 * `write: 'through'`) behind a real HAProxy round robin, and a writer adding items through it during a join, a
 * SIGTERM leave, a rolling restart of every node, an owner paused (SIGSTOP) past the failure timeout and resumed,
 * and a kill -9. Afterwards every acknowledged item must be in its cart, read through every node.
 */
export function describeHandoff(name: string, appDir: URL, persist: Persist): void {
  const started: Started[] = [];
  afterAll(() => cleanup(started));

  it(`${name}: carts survive a join, a SIGTERM leave, a rolling restart, a pause and a kill -9 with persist (${persist}, 'through'): 0 acknowledged items lost`, async () => {
    const { cluster, writer } = await deploy(started, name, appDir, ['n1', 'n2', 'n3', 'n4'], persist);
    try {
      // Join: n4 takes its carts from the others, pushed in the background or pulled by the first request.
      await cluster.node('n4').start();
      await cluster.converged(['n1', 'n2', 'n3', 'n4']);
      await sleep(500);
      // Leave: n2 hands every cart over before it exits.
      await cluster.node('n2').stop();
      await cluster.converged(['n1', 'n3', 'n4']);
      await sleep(500);
      // Rolling restart: each node in turn leaves (SIGTERM) and starts again with the same id.
      for (const id of ['n1', 'n3', 'n4']) {
        await cluster.node(id).stop();
        await cluster.converged(['n1', 'n3', 'n4'].filter((other) => other !== id));
        await cluster.node(id).start();
        await cluster.converged(['n1', 'n3', 'n4']);
        await sleep(300);
      }
      // Pause: n3 stops (SIGSTOP) until the others declare it failed and take its carts from the store; resumed,
      // it learns that it lost them (it writes none back) and rejoins.
      cluster.node('n3').signal('SIGSTOP');
      await cluster.removed('n3');
      await sleep(500);
      cluster.node('n3').signal('SIGCONT');
      await cluster.converged(['n1', 'n3', 'n4']);
      expect((await cluster.node('n3').stats())!.handoff!.dropped).toBeGreaterThan(0);
      await sleep(300);
      // Crash: kill -9 of n4; its successors load its carts from the store; it starts again with the same id.
      await cluster.node('n4').kill();
      await cluster.removed('n4');
      await sleep(500);
      expect(await cluster.total('loaded')).toBeGreaterThan(0);
      await cluster.node('n4').start();
      await cluster.converged(['n1', 'n3', 'n4']);
      await sleep(300);
    } finally {
      const tally = await writer.stop();
      console.log(`${name} handoff scenario: ${JSON.stringify(tally)}, handed over ${await cluster.total('done')}`);
    }
    const { acknowledged } = writer.tally();
    expect(acknowledged).toBeGreaterThan(200);
    for (const node of cluster.running) {
      const { missing, cartsWithLoss } = await missingItems(writer, (cart) => skusVia(node.url, cart));
      expect({ node: node.id, missing, cartsWithLoss }, cluster.logs()).toEqual({ node: node.id, missing: 0, cartsWithLoss: [] });
    }
  }, 240_000);
}

/**
 * Without `persist`, a crash (kill -9) loses what the node held, as the READMEs say: the loss is counted
 * (`handoff.startedEmpty`) on the nodes that took the crashed node's carts over.
 */
export function describeCrashWithoutPersist(name: string, appDir: URL): void {
  const started: Started[] = [];
  afterAll(() => cleanup(started));

  it(`${name}: a kill -9 without persist loses the crashed node's carts, and every cart that lost items is counted`, async () => {
    const { cluster, writer } = await deploy(started, name, appDir, ['n1', 'n2', 'n3']);
    try {
      await cluster.node('n2').kill();
      await cluster.removed('n2');
      await sleep(500);
    } finally {
      await writer.stop();
    }
    const { missing, cartsWithLoss } = await missingItems(writer, (cart) => skusVia(cluster.node('n1').url, cart));
    console.log(`${name} crash without persist: ${JSON.stringify(writer.tally())}, lost ${missing} items in ${cartsWithLoss.length} carts`);
    expect(missing).toBeGreaterThan(0);
    // Every cart read above was first used on its new owner after its owner crashed: each one that lost items counts.
    expect(await cluster.total('startedEmpty')).toBeGreaterThanOrEqual(cartsWithLoss.length);
  }, 120_000);
}
