import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleApp, type RunningApp } from './example-app.js';
import { startPnpm } from './pnpm.js';

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

/** POSTs a JSON body (as text: it may be malformed on purpose) to a cart's items. */
const postItems = (url: string, cartId: string, body: string) =>
  fetch(`${url}/carts/${cartId}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

const addItem = (url: string, cartId: string, sku: string, qty = 1) => postItems(url, cartId, JSON.stringify({ sku, qty }));

/**
 * The cart store's tests, the same for every framework that serves it: starts the example's src/main.ts in
 * redirect and in proxy mode and makes real requests.
 */
export function describeCartStore(name: string, appDir: URL): void {
  const example = exampleApp(appDir, { readyLine: 'cart store ready' });
  /** The app started in this misroute mode for the enclosing describe block. */
  const startedIn = (misroute: string): (() => RunningApp) => {
    let app: RunningApp | undefined;
    beforeAll(async () => {
      app = await example.start({ MISROUTE: misroute });
    });
    afterAll(() => example.stop(app));
    return () => app!;
  };

  describe(`${name} in redirect mode`, () => {
    const app = startedIn('redirect');

    it('a non-owner answers 307 with the owner URL, and the cart lives on the owner', async () => {
      const { nodes } = app();
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
      const { nodes } = app();
      const owner = await ownerOf(nodes, 'bob');
      const res = await postItems(nodes.get(owner)!, 'bob', '{"qty":-1}');
      expect(res.status).toBe(400);
    });

    it('answers a malformed JSON body with a JSON 400, not an HTML page with a stack trace', async () => {
      const { nodes } = app();
      const owner = await ownerOf(nodes, 'dave');
      const res = await postItems(nodes.get(owner)!, 'dave', '{"sku":');
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ error: 'Bad Request' });
    });
  });

  describe(`${name} run by pnpm, as its README says`, () => {
    it('Ctrl-C leaves the ring and exits 0 without a pnpm error', async () => {
      const run = await startPnpm(['--filter', `@ringroute/${name}`, 'start'], {
        env: { PORT: '0', NODE_ID: '', REDIS_URL: '' },
        ready: /cart store ready/,
      });
      expect(await run.interrupt()).toEqual([0, null]);
      expect(run.stderr).toBe('');
    });
  });

  describe(`${name} in proxy mode`, () => {
    const app = startedIn('proxy');

    it("a non-owner forwards the request, body included, and returns the owner's answer", async () => {
      const { nodes } = app();
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
}
