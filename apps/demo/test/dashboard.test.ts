import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../src/demo.js';

// Real headless Chromium (Debian's package; .ci/run installs it) against the real demo cluster.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);

describe('the ring dashboard in Chromium', () => {
  let demo: Demo;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    demo = await startDemo({ port: 0 });
    profile = mkdtempSync(join(tmpdir(), 'ringroute-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 1000 },
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
    page = context.pages()[0] ?? (await context.newPage());
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows the ring, looks up a key, follows the owner change (and the key state moving with it) when that owner is removed and its successor killed', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(demo.dashboard.url);

    // Live over SSE, one coloured arc set per node.
    await page.locator('#live[data-state="live"]').waitFor();
    await expect.poll(() => page.locator('#ring path.arc[data-node]').count()).toBe(3);
    await expect.poll(() => page.locator('#nodes .node').count()).toBe(3);

    const key = 'cart:alice';
    const ring = demo.cluster.observer.ring;
    const owner = ring.owner(key)!.id;
    const successor = ring.owners(key, 2)[1]!.id; // the next node in the fallback chain
    await page.fill('#key-input', key);
    await page.press('#key-input', 'Enter');
    await expect.poll(() => page.locator('#lookup-owner').textContent()).toBe(owner);
    await expect.poll(() => page.locator('#lookup-chain .chip').allTextContents()).toEqual([...ring.candidates(key)].map((n) => n.id));
    // Non-owners answered the real request with a redirect to the owner.
    await expect.poll(() => page.locator('#lookup-probes li').count()).toBe(3);
    expect(await page.locator('#lookup-probes li', { hasText: '307' }).count()).toBe(2);
    await expect.poll(() => page.locator('[data-node] .counters b').first().textContent(), { timeout: 10_000 }).not.toBe('0');
    // The owner's answer counted a hit: the key's state (its hit counter) is held on the owner.
    const tracked = page.locator(`#keys li[data-key="${key}"] .key-state`);
    await expect.poll(() => tracked.getAttribute('data-holder'), { timeout: 10_000 }).toBe(owner);
    const hits = async () => Number(await tracked.locator('[data-hits]').textContent());
    await expect.poll(hits).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });

    const epochBefore = await page.locator('#epoch').textContent();
    await page.click(`#nodes .node[data-node="${owner}"] button[data-action="remove"]`);

    await expect.poll(() => page.locator('#ring path.arc[data-node]').count()).toBe(2);
    expect(await page.locator(`#ring path.arc[data-node="${owner}"]`).count()).toBe(0);
    await expect.poll(() => page.locator('#lookup-owner').textContent()).toBe(successor);
    expect(await page.locator('#epoch').textContent()).not.toBe(epochBefore);
    // The tracked key shows where it moved from, and its state moved with it: held on the successor, the owner's hit
    // kept (the lookup on the new ring adds one more there).
    await expect.poll(() => page.locator(`#keys li[data-key="${key}"] .owners .chip`).allTextContents()).toEqual([owner, successor]);
    await expect.poll(() => tracked.getAttribute('data-holder'), { timeout: 10_000 }).toBe(successor);
    await expect.poll(hits, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await expect
      .poll(async () => Number(await page.locator(`#nodes .node[data-node="${successor}"] [data-received] b`).textContent()), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(1);
    await expect.poll(() => page.locator('#log li').first().textContent()).toContain(`${owner} left`);
    await page.screenshot({ path: new URL('dashboard-after-remove.png', ARTIFACTS).pathname, fullPage: true });

    // Kill the new owner: health checks declare it dead, its arcs fade, and the key falls to the last node.
    const last = [...demo.cluster.nodes.keys()].find((id) => id !== successor)!;
    await page.click(`#nodes .node[data-node="${successor}"] button[data-action="kill"]`);
    await expect
      .poll(() => page.locator(`#nodes .node[data-node="${successor}"] .badge`).textContent(), { timeout: 10_000 })
      .toBe('killed · dead');
    expect(await page.locator(`#ring path.arc.down[data-node="${successor}"]`).count()).toBe(1);
    await expect.poll(() => page.locator('#lookup-owner').textContent()).toBe(last);
    expect(errors).toEqual([]);
  });
});
