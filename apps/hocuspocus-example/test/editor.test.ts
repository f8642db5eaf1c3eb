import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { exampleApp, type RunningApp } from '@ringroute/example-kit/test';
import { createSmartClient, parseRedirectHint, type SmartClient } from '@ringroute/hocuspocus/client';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';

const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);
// The machine's PostgreSQL, as the package tests use it (PG* variables override), unless DATABASE_URL is given.
const { PGUSER = 'postgres', PGHOST = '127.0.0.1', PGPORT = '5432', PGDATABASE = 'test' } = process.env;
const DATABASE_URL = process.env.DATABASE_URL || `postgres://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}`;

// SIGTERM in stop(): every node hands its documents over (stored and confirmed) before the process exits.
const { start, stop } = exampleApp(new URL('..', import.meta.url), { readyLine: 'editor cluster ready', env: { DATABASE_URL: '' } });

const ownerOf = async (nodeUrl: string, documentName: string) =>
  ((await (await fetch(`${nodeUrl}/api/routes/document/${encodeURIComponent(documentName)}`)).json()) as { owner: { id: string } }).owner
    .id;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function smartClient(nodeUrl: string): SmartClient {
  const client = createSmartClient({ nodes: [nodeUrl], WebSocketPolyfill: WebSocket, backoff: { delay: 10 } });
  cleanup.push(() => client.destroy());
  return client;
}

/** Headless Chromium with a throwaway profile, closed after the test; `errors` collects the page's uncaught errors. */
async function openBrowser(): Promise<{ page: Page; errors: string[] }> {
  const profile = mkdtempSync(join(tmpdir(), 'ringroute-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 760 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
  cleanup.push(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors };
}

describe('hocuspocus-example', () => {
  let app: RunningApp | undefined;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => stop(app));

  it('the client helper, given any node, edits the document on its owner', async () => {
    const urls = [...app!.nodes.values()];
    const owner = await ownerOf(urls[0]!, 'shared-notes');
    const writer = await smartClient(urls[0]!).open('shared-notes');
    await writer.whenSynced();
    expect(writer.nodeId).toBe(owner);
    writer.document.getText('content').insert(0, 'hello from the helper');

    // Another client entering through another node lands on the same owner and sees the edit.
    const reader = await smartClient(urls[2]!).open('shared-notes');
    await reader.whenSynced();
    expect(reader.nodeId).toBe(owner);
    await expect.poll(() => reader.document.getText('content').toString()).toBe('hello from the helper');
  });

  it('a plain provider on a non-owner is refused with a redirect hint naming the owner', async () => {
    const owner = await ownerOf(app!.nodes.get('node-1')!, 'plain-doc');
    const [otherId, otherUrl] = [...app!.nodes].find(([id]) => id !== owner)!;
    const socket = new HocuspocusProviderWebsocket({ url: otherUrl.replace(/^http/, 'ws'), WebSocketPolyfill: WebSocket });
    const refusals: string[] = [];
    const provider = new HocuspocusProvider({
      websocketProvider: socket,
      name: 'plain-doc',
      document: new Y.Doc(),
      onAuthenticationFailed: ({ reason }) => void refusals.push(reason),
    });
    provider.attach();
    cleanup.push(() => {
      provider.destroy();
      socket.destroy();
    });
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    const hint = parseRedirectHint(refusals[0]!);
    expect(hint?.ownerId).toBe(owner);
    expect(hint?.ownerUrl).toBe(app!.nodes.get(owner)!.replace(/^http/, 'ws'));
    expect(otherId).not.toBe(owner);
  });

  it('the editor page works in Chromium: typed text reaches the owner, which the page names', async () => {
    const { page, errors } = await openBrowser();
    const pageNode = app!.nodes.get('node-1')!;
    const owner = await ownerOf(pageNode, 'browser-doc');
    await page.goto(`${pageNode}/?doc=browser-doc`);
    await page.locator('#state.synced').waitFor();
    expect(await page.locator('#owner').textContent()).toContain(owner);
    expect(await page.locator('#connected').textContent()).toContain(owner);
    await page.locator('#editor').pressSequentially('Typed in Chromium.');

    const reader = await smartClient(app!.nodes.get('node-3')!).open('browser-doc');
    await reader.whenSynced();
    await expect.poll(() => reader.document.getText('content').toString()).toBe('Typed in Chromium.');
    // And back: a remote edit shows up in the page.
    reader.document.getText('content').insert(0, '>> ');
    await expect.poll(() => page.locator('#editor').inputValue()).toBe('>> Typed in Chromium.');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('hocuspocus-editor.png', ARTIFACTS).pathname });
    expect(errors).toEqual([]);
  });

  it("the page's Handovers panel counts the documents each node hands over to a joining node", async () => {
    const { page, errors } = await openBrowser();
    const pageNode = app!.nodes.get('node-1')!;
    await page.goto(`${pageNode}/?doc=panel-doc`);
    const count = (node: string, state: string) => page.locator(`#handovers tr[data-node="${node}"] td[data-state="${state}"]`);
    const done = async (node: string) => Number(await count(node, 'done').textContent());
    // One row per node: pending, moving, done, failed.
    for (const node of app!.nodes.keys())
      await expect
        .poll(() => page.locator(`#handovers tr[data-node="${node}"]`).innerText(), { timeout: 5000 })
        .toMatch(new RegExp(`^${node}(\\s+\\d+){4}$`));

    // Documents loaded on their owners (clients stay connected), then node-4 joins and takes its share of them.
    const names = Array.from({ length: 16 }, (_, i) => `handover-${i}`);
    const ownersBefore = new Map<string, string>();
    for (const name of names) {
      ownersBefore.set(name, await ownerOf(pageNode, name));
      await (await smartClient(pageNode).open(name)).whenSynced();
    }
    const doneBefore = new Map<string, number>();
    for (const node of app!.nodes.keys()) doneBefore.set(node, await done(node));
    process.kill(app!.child.pid!, 'SIGUSR2'); // the example's hook: start one more local node
    await page.locator('#handovers tr[data-node="node-4"] td[data-state="done"]').waitFor();

    const movedFrom = new Map<string, number>();
    for (const name of names) {
      if ((await ownerOf(pageNode, name)) !== 'node-4') continue;
      const from = ownersBefore.get(name)!;
      movedFrom.set(from, (movedFrom.get(from) ?? 0) + 1);
    }
    expect(movedFrom.size).toBeGreaterThan(0);
    for (const [node, moved] of movedFrom)
      await expect.poll(() => done(node), { timeout: 10_000 }).toBeGreaterThanOrEqual(doneBefore.get(node)! + moved);
    expect(await count('node-4', 'failed').textContent()).toBe('0');
    await page.locator('#nodes li[data-node="node-4"]').waitFor(); // the cluster list refreshes less often
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('hocuspocus-handovers.png', ARTIFACTS).pathname });
    expect(errors).toEqual([]);
  });
});

describe('hocuspocus-example with PostgreSQL (DATABASE_URL)', () => {
  const name = `persisted-${process.pid}-${Date.now()}`;
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    await pool.query('DELETE FROM ringroute_documents WHERE name = $1', [name]).catch(() => {});
    await pool.end();
  });

  it('a document survives a restart of the whole cluster', async () => {
    const first = await start({ DATABASE_URL });
    try {
      const writer = await smartClient(first.nodes.get('node-1')!).open(name);
      await writer.whenSynced();
      writer.document.getText('content').insert(0, 'still here after a restart');
      // Wait until the owner acknowledged the update (nothing unsynced left in the provider).
      await expect.poll(() => writer.provider.hasUnsyncedChanges).toBe(false);
    } finally {
      for (const step of cleanup.splice(0).reverse()) await step();
      await stop(first);
    }
    const second = await start({ DATABASE_URL });
    try {
      const reader = await smartClient(second.nodes.get('node-2')!).open(name);
      await reader.whenSynced();
      expect(reader.document.getText('content').toString()).toBe('still here after a restart');
    } finally {
      for (const step of cleanup.splice(0).reverse()) await step();
      await stop(second);
    }
  });
});
