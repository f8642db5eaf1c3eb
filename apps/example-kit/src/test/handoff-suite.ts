import { afterAll, expect, it } from 'vitest';
import { DeployedCluster } from './deployed.js';
import { CartWriter, missingItems } from './writer.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Detection timing of the deployed nodes: a silent node is suspected after 1 s and removed after 2 s. */
const TIMING = { RINGROUTE_SYNC_INTERVAL: '100', RINGROUTE_FAILURE_TIMEOUT: '1000' };
const CARTS = Array.from({ length: 40 }, (_, i) => `cart-${i}`);

let clusters = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The deployed example (one node per process, Redis membership, proxy mode) behind HAProxy, for one scenario. */
function deploy(name: string, appDir: URL, env: Record<string, string> = {}): DeployedCluster {
  return new DeployedCluster(appDir, {
    REDIS_URL,
    RINGROUTE_CLUSTER: `${name}-handoff-${process.pid}-${Date.now()}-${clusters++}`,
    RINGROUTE_SECRET: 'handoff-test-secret',
    MISROUTE: 'proxy',
    ...TIMING,
    ...env,
  });
}

/** The skus in a cart, read through one node (which proxies to the owner). */
async function skusVia(url: string, cart: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/carts/${cart}`, { signal: AbortSignal.timeout(15_000) });
    const body = (await res.json()) as { items?: { sku: string }[] };
    if (res.status === 200) return body.items!.map((item) => item.sku);
    if (attempt === 20) throw new Error(`GET ${url}/carts/${cart} answered ${res.status}: ${JSON.stringify(body)}`);
    await sleep(100);
  }
}

/**
 * The cart examples' handoff scenarios, the same for every framework: the app deployed as in deploy/ (one node per
 * process, Redis membership with a secret, proxy mode) behind a real HAProxy round robin, and a writer adding items
 * through it during every change. Afterwards every acknowledged item must be in its cart, read through every node.
 */
export function describeHandoff(name: string, appDir: URL): void {
  const started: DeployedCluster[] = [];
  afterAll(async () => {
    for (const cluster of started) await cluster.close();
  });

  it(`${name}: carts survive a join, a SIGTERM leave and a rolling restart of every node (0 acknowledged items lost)`, async () => {
    const cluster = deploy(name, appDir);
    started.push(cluster);
    await cluster.prepare(['n1', 'n2', 'n3', 'n4']);
    await Promise.all(['n1', 'n2', 'n3'].map((id) => cluster.node(id).start()));
    await cluster.converged(['n1', 'n2', 'n3']);
    const writer = new CartWriter(cluster.url, CARTS);
    writer.start();
    try {
      await sleep(1000);
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
    expect(await cluster.total('dropped')).toBe(0);
  }, 180_000);
}

/**
 * Without `persist`, a crash (kill -9) loses what the node held, as the READMEs say: the loss is counted
 * (`handoff.startedEmpty`) on the nodes that took the crashed node's carts over.
 */
export function describeCrashWithoutPersist(name: string, appDir: URL): void {
  const started: DeployedCluster[] = [];
  afterAll(async () => {
    for (const cluster of started) await cluster.close();
  });

  it(`${name}: a kill -9 without persist loses the crashed node's carts, and every cart that lost items is counted`, async () => {
    const cluster = deploy(name, appDir);
    started.push(cluster);
    await cluster.prepare(['n1', 'n2', 'n3']);
    await Promise.all(['n1', 'n2', 'n3'].map((id) => cluster.node(id).start()));
    await cluster.converged(['n1', 'n2', 'n3']);
    const writer = new CartWriter(cluster.url, CARTS);
    writer.start();
    try {
      await sleep(1000);
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
