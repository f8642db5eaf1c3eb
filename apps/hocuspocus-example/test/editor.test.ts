import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { createSmartClient, parseRedirectHint, type SmartClient } from '@ringroute/hocuspocus/client';
import pg from 'pg';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';

const appDir = new URL('..', import.meta.url);
const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);
// The machine's PostgreSQL, as the package tests use it (PG* variables override), unless DATABASE_URL is given.
const { PGUSER = 'postgres', PGHOST = '127.0.0.1', PGPORT = '5432', PGDATABASE = 'test' } = process.env;
const DATABASE_URL = process.env.DATABASE_URL || `postgres://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}`;

/** Every app process this file started: whatever happens to a test, none outlives the file. */
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  /** node id -> http URL, as the app printed them. */
  nodes: Map<string, string>;
}

/** Starts the example as its README does (src/main.ts under tsx), on free ports. */
async function start(env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', NODE_ID: '', REDIS_URL: '', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.add(child);
  const nodes = new Map<string, string>();
  for await (const line of createInterface({ input: child.stdout! })) {
    const match = /^(node-\d+) (http:\/\/\S+)$/.exec(line);
    if (match) nodes.set(match[1]!, match[2]!);
    if (line.startsWith('editor cluster ready')) break;
  }
  if (nodes.size !== 3) throw new Error(`the app did not start 3 nodes (got ${nodes.size})`);
  return { child, nodes };
}

/** SIGTERM: every node hands its documents over (stored and confirmed) before the process exits. */
async function stop(running: Running | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null) return;
  const exited = once(running.child, 'exit');
  running.child.kill('SIGTERM');
  await exited;
}

const ownerOf = async (nodeUrl: string, documentName: string) =>
  ((await (await fetch(`${nodeUrl}/api/routes/document/${encodeURIComponent(documentName)}`)).json()) as { owner: { id: string } }).owner.id;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function smartClient(nodeUrl: string): SmartClient {
  const client = createSmartClient({ nodes: [nodeUrl], WebSocketPolyfill: WebSocket, backoff: { delay: 10 } });
  cleanup.push(() => client.destroy());
  return client;
}

describe('hocuspocus-example', () => {
  let app: Running | undefined;
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
    const profile = mkdtempSync(join(tmpdir(), 'ringroute-chromium-'));
    const context: BrowserContext = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1200, height: 760 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
    cleanup.push(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

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
