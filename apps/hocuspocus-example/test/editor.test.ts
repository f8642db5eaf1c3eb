import { mkdirSync } from 'node:fs';
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { exampleApp, type RunningApp } from '@ringroute/example-kit/test';
import { RING_PATH } from '@ringroute/hocuspocus';
import type { Editor } from '@tiptap/core';
import { ringFromJSON, type RingSnapshotJSON } from '@ringroute/ring-core';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
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

/** A condition polled until it holds, with a deadline that holds on a busy 2-core machine (Chromium, 4 nodes, typing). */
const eventually = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 20_000 });

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A plain provider in Node on one node's URL, as any Hocuspocus client connects (no RingRoute code). */
function plainProvider(nodeUrl: string, name: string): HocuspocusProvider {
  const socket = new HocuspocusProviderWebsocket({ url: nodeUrl.replace(/^http/, 'ws'), WebSocketPolyfill: WebSocket });
  const provider = new HocuspocusProvider({ websocketProvider: socket, name, document: new Y.Doc() });
  provider.attach();
  cleanup.push(() => {
    provider.destroy();
    socket.destroy();
  });
  return provider;
}

const synced = (provider: HocuspocusProvider) =>
  new Promise<void>((resolve) => (provider.isSynced ? resolve() : provider.on('synced', () => resolve())));

let browser: Browser | undefined;
afterAll(() => browser?.close());

interface EditorPage {
  page: Page;
  /** The editor's text, paragraphs joined by newlines. */
  text(): Promise<string>;
  /** Uncaught errors of the page. */
  errors: string[];
}

/** The editor page of `nodeUrl` for `documentName`, in its own browser context, as `name`; resolves once synced. */
async function openEditor(nodeUrl: string, documentName: string, name: string, color: string): Promise<EditorPage> {
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${nodeUrl}/?${new URLSearchParams({ doc: documentName, name, color })}`);
  await page.locator('#state.synced').waitFor();
  await page.locator('#editor .ProseMirror[contenteditable="true"]').waitFor();
  // The editor's document (the DOM also holds the other users' caret labels).
  const text = () => page.evaluate(() => (window as unknown as { editor: Editor }).editor.getText({ blockSeparator: '\n' }));
  return { page, errors, text };
}

/** The first `prefix-i` document that `owner` owns (per the ring of `nodeUrl`, or of that ring plus `joining`). */
async function documentOwnedBy(nodeUrl: string, owner: string, prefix: string, joining?: string): Promise<string> {
  let ring = await ringFromJSON((await (await fetch(`${nodeUrl}${RING_PATH}`)).json()) as RingSnapshotJSON);
  if (joining) ring = ring.with({ add: [{ id: joining, url: 'ws://127.0.0.1:1' }] });
  for (let i = 0; ; i++) if (ring.owner(`${prefix}-${i}`)?.id === owner) return `${prefix}-${i}`;
}

describe('hocuspocus-example', () => {
  let app: RunningApp | undefined;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => stop(app));

  it("two pages on different nodes see each other's text and caret, relayed to the owner on a third node", async () => {
    const [node1, node2, node3] = ['node-1', 'node-2', 'node-3'].map((id) => app!.nodes.get(id)!);
    const name = await documentOwnedBy(node1!, 'node-3', 'pair');
    const alice = await openEditor(node1!, name, 'Alice', '#3ddc97');
    const bob = await openEditor(node2!, name, 'Bob', '#ff6b6b');
    await eventually(() => alice.page.locator('#path').textContent()).toBe('relayed by node-1 to node-3');
    await eventually(() => bob.page.locator('#path').textContent()).toBe('relayed by node-2 to node-3');

    await alice.page.locator('#editor .ProseMirror').pressSequentially('Hello from Alice.');
    await eventually(() => bob.text()).toBe('Hello from Alice.');
    // Bob sees Alice's caret, named, and it follows her cursor.
    const aliceCaret = bob.page.locator('.collaboration-carets__caret', { hasText: 'Alice' });
    await aliceCaret.waitFor();
    const atEnd = (await aliceCaret.boundingBox())!.x;
    await alice.page.keyboard.press('Home');
    await eventually(async () => (await aliceCaret.boundingBox())!.x).toBeLessThan(atEnd);
    await eventually(() => bob.page.locator('#users li[data-user="Alice"]').count()).toBe(1);

    // And back: Bob's words and caret reach Alice.
    await bob.page.locator('#editor .ProseMirror').click();
    await bob.page.keyboard.press('End');
    await bob.page.keyboard.type(' Bob was here.');
    await eventually(() => alice.text()).toBe('Hello from Alice. Bob was here.');
    await alice.page.locator('.collaboration-carets__caret', { hasText: 'Bob' }).waitFor();

    // A plain provider on the owner itself reads what both typed (the document lives there).
    const reader = plainProvider(node3!, name);
    await synced(reader);
    await expect
      .poll(() => reader.document.getXmlFragment('default').toString())
      .toBe('<paragraph>Hello from Alice. Bob was here.</paragraph>');
    mkdirSync(ARTIFACTS, { recursive: true });
    await bob.page.screenshot({ path: new URL('hocuspocus-editor.png', ARTIFACTS).pathname });
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  }, 60_000);

  it('a node joins while two pages type: their document moves to it, nothing typed is lost, the Handovers panel counts', async () => {
    const node1 = app!.nodes.get('node-1')!;
    const node2 = app!.nodes.get('node-2')!;
    const name = await documentOwnedBy(node1, 'node-4', 'moving', 'node-4');
    const ownerBefore = await ownerOf(node1, name);
    // More open documents (plain providers through node-1), so that every old owner has some to hand over.
    const others = Array.from({ length: 12 }, (_, i) => `handover-${i}`);
    const ownersBefore = new Map<string, string>();
    for (const other of others) {
      ownersBefore.set(other, await ownerOf(node1, other));
      await synced(plainProvider(node1, other));
    }
    const alice = await openEditor(node1, name, 'Alice', '#3ddc97');
    const bob = await openEditor(node2, name, 'Bob', '#ff6b6b');
    const done = async (node: string) =>
      Number(await alice.page.locator(`#handovers tr[data-node="${node}"] td[data-state="done"]`).textContent());
    const doneBefore = new Map<string, number>();
    for (const node of app!.nodes.keys()) {
      await alice.page.locator(`#handovers tr[data-node="${node}"] td[data-state="done"]`).waitFor();
      doneBefore.set(node, await done(node));
    }

    // Alice writes in the first paragraph, Bob in a second one, word after word, until told to stop.
    await bob.page.locator('#editor .ProseMirror').click();
    await bob.page.keyboard.press('Enter');
    await eventually(() => alice.page.locator('#editor .ProseMirror > p').count()).toBe(2);
    let typing = true;
    const type = async (editor: EditorPage, tag: string) => {
      const words: string[] = [];
      while (typing || words.length < 10) {
        const word = `${tag}${words.length}`;
        await editor.page.keyboard.type(` ${word}`, { delay: 10 });
        words.push(word);
      }
      return words;
    };
    const typed = Promise.all([type(alice, 'a'), type(bob, 'b')]);
    // If the test fails meanwhile, the pages close under the typists: stop them, and that is no second error.
    cleanup.push(() => (typing = false));
    typed.catch(() => {});
    await eventually(() => alice.text()).toMatch(/a3/);

    process.kill(app!.child.pid!, 'SIGUSR2'); // the example's hook: start one more local node
    await eventually(() => ownerOf(node1, name)).toBe('node-4');
    await eventually(() => done(ownerBefore)).toBeGreaterThan(doneBefore.get(ownerBefore)!);
    // Typing goes on on the new owner for a while.
    const wordsAtMove = (await alice.text()).split(' ').length;
    await eventually(async () => (await alice.text()).split(' ').length).toBeGreaterThan(wordsAtMove + 10);
    typing = false;
    const [aliceWords, bobWords] = await typed;

    // Every word, once, in the order typed, on both pages and on the new owner; both providers have nothing unsaved.
    const expected = `${aliceWords.map((w) => ` ${w}`).join('')}\n${bobWords.map((w) => ` ${w}`).join('')}`;
    for (const editor of [alice, bob]) {
      await eventually(() => editor.text()).toBe(expected);
      await editor.page.locator('#state[data-unsynced="0"]').waitFor();
      await eventually(() => editor.page.locator('#owner').textContent()).toBe('node-4');
    }
    const reader = plainProvider(app!.nodes.get('node-3')!, name);
    await synced(reader);
    expect(reader.document.getXmlFragment('default').toString()).toBe(
      `<paragraph>${expected.split('\n')[0]}</paragraph><paragraph>${expected.split('\n')[1]}</paragraph>`,
    );
    await eventually(() => alice.page.locator('#moves li').first().textContent()).toContain(`${ownerBefore} → node-4`);

    // The Handovers panel: node-4 listed, and every old owner counts the documents it handed over to it.
    await alice.page.locator('#handovers tr[data-node="node-4"] td[data-state="done"]').waitFor();
    const movedFrom = new Map<string, number>([[ownerBefore, 1]]);
    for (const other of others) {
      if ((await ownerOf(node1, other)) !== 'node-4') continue;
      const from = ownersBefore.get(other)!;
      movedFrom.set(from, (movedFrom.get(from) ?? 0) + 1);
    }
    for (const [node, moved] of movedFrom) await eventually(() => done(node)).toBeGreaterThanOrEqual(doneBefore.get(node)! + moved);
    expect(await alice.page.locator('#handovers tr[data-node="node-4"] td[data-state="failed"]').textContent()).toBe('0');
    await alice.page.locator('#nodes li[data-node="node-4"]').waitFor();
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.page.screenshot({ path: new URL('hocuspocus-handovers.png', ARTIFACTS).pathname });
    expect([...alice.errors, ...bob.errors]).toEqual([]);
  }, 90_000);
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
      const writer = plainProvider(first.nodes.get('node-1')!, name);
      await synced(writer);
      writer.document.getText('content').insert(0, 'still here after a restart');
      // Wait until the owner acknowledged the update (nothing unsynced left in the provider).
      await eventually(() => writer.hasUnsyncedChanges).toBe(false);
    } finally {
      for (const step of cleanup.splice(0).reverse()) await step();
      await stop(first);
    }
    const second = await start({ DATABASE_URL });
    try {
      const reader = plainProvider(second.nodes.get('node-2')!, name);
      await synced(reader);
      expect(reader.document.getText('content').toString()).toBe('still here after a restart');
    } finally {
      for (const step of cleanup.splice(0).reverse()) await step();
      await stop(second);
    }
  });
});
