import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const appDir = new URL('..', import.meta.url);

/** Every app process this file started: whatever happens to a test, none outlives the file. */
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  /** node id -> base URL, as the app printed them. */
  nodes: Map<string, string>;
}

/** Starts the example exactly as its README does (src/main.ts under tsx), on free ports. */
async function start(misroute: string): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', MISROUTE: misroute, NODE_ID: '', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.add(child);
  const nodes = new Map<string, string>();
  for await (const line of createInterface({ input: child.stdout! })) {
    const match = /^(node-\d+) (http:\/\/\S+)$/.exec(line);
    if (match) nodes.set(match[1]!, match[2]!);
    if (line.startsWith('cart store ready')) break;
  }
  if (nodes.size !== 3) throw new Error(`the app did not start 3 nodes (got ${nodes.size})`);
  return { child, nodes };
}

async function stop(running: Running | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null) return;
  const exited = once(running.child, 'exit');
  running.child.kill('SIGTERM');
  await exited;
}

/** Asks every node for the cart without following redirects; the one that serves it itself is the owner. */
async function ownerOf(nodes: Map<string, string>, cartId: string): Promise<string> {
  const served: string[] = [];
  for (const [id, url] of nodes) {
    const res = await fetch(`${url}/carts/${cartId}`, { redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status === 200 && res.headers.get('x-served-by') === id) served.push(id);
  }
  expect(served).toHaveLength(1);
  return served[0]!;
}

const addItem = (url: string, cartId: string, sku: string, qty = 1) =>
  fetch(`${url}/carts/${cartId}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku, qty }) });

describe('express-example in redirect mode', () => {
  let app: Running | undefined;
  beforeAll(async () => {
    app = await start('redirect');
  });
  afterAll(() => stop(app));

  it('a non-owner answers 307 with the owner URL, and the cart lives on the owner', async () => {
    const { nodes } = app!;
    const owner = await ownerOf(nodes, 'alice');
    const other = [...nodes].find(([id]) => id !== owner)!;

    const res = await fetch(`${other[1]}/carts/alice`, { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toMatch(new RegExp(`^${nodes.get(owner)}/carts/alice`));

    // fetch follows the 307 with the same method and body, as a browser would.
    const added = await addItem(other[1], 'alice', 'tea', 2);
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ cartId: 'alice', node: owner, items: [{ sku: 'tea', qty: 2 }] });

    const cart = await (await fetch(`${other[1]}/carts/alice`)).json();
    expect(cart).toEqual({ cartId: 'alice', node: owner, items: [{ sku: 'tea', qty: 2 }] });
  });

  it('rejects an invalid item with 400 on the owner', async () => {
    const { nodes } = app!;
    const owner = await ownerOf(nodes, 'bob');
    const res = await fetch(`${nodes.get(owner)}/carts/bob/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"qty":-1}' });
    expect(res.status).toBe(400);
  });
});

describe('express-example in proxy mode', () => {
  let app: Running | undefined;
  beforeAll(async () => {
    app = await start('proxy');
  });
  afterAll(() => stop(app));

  it("a non-owner forwards the request, body included, and returns the owner's answer", async () => {
    const { nodes } = app!;
    const owner = await ownerOf(nodes, 'carol');
    const others = [...nodes].filter(([id]) => id !== owner);

    const added = await addItem(others[0]![1], 'carol', 'coffee', 3);
    expect(added.status).toBe(201);
    expect(added.headers.get('x-served-by')).toBe(owner);
    expect(await added.json()).toMatchObject({ node: owner, items: [{ sku: 'coffee', qty: 3 }] });

    const res = await fetch(`${others[1]![1]}/carts/carol`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cartId: 'carol', node: owner, items: [{ sku: 'coffee', qty: 3 }] });
  });
});
