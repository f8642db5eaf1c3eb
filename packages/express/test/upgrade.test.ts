import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startCluster, until, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

/** Close codes and reasons each node's echo server received, by node id. */
const closes = new Map<string, [number, string][]>();

/**
 * Every node's server hands upgrades to `rr.handleUpgrade`, whose `next` gives the socket to a `ws` echo server
 * that names its node in every answer and closes with the code a client asks for ("close:<code>").
 */
function wireWebSockets(cluster: Cluster): void {
  for (const node of cluster.nodes) {
    const wss = new WebSocketServer({ noServer: true });
    closes.set(node.id, []);
    wss.on('connection', (ws, req: IncomingMessage) => {
      ws.on('close', (code, reason) => closes.get(node.id)!.push([code, reason.toString()]));
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('close:')) return ws.close(Number(text.slice(6)), `${node.id} closes`);
        ws.send(JSON.stringify({ node: node.id, echo: text, hops: req.headers['x-ringroute-hops'] ?? null }));
      });
    });
    node.server.on('upgrade', (req: IncomingMessage, socket, head) =>
      node.rr.handleUpgrade(req, socket, head, () => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))),
    );
  }
}

const wsUrl = (httpUrl: string, path: string) => httpUrl.replace(/^http/, 'ws') + path;

async function nextJson(ws: WebSocket): Promise<Record<string, unknown>> {
  const [data] = await once(ws, 'message');
  return JSON.parse(String(data)) as Record<string, unknown>;
}

describe.each(EXPRESS_VERSIONS)('$name: WebSocket upgrades through handleUpgrade', ({ express }) => {
  let proxy: Cluster;
  let refuse: Cluster;

  beforeAll(async () => {
    const start = (misroute: 'proxy' | 'refuse') =>
      startCluster({ express, ids: ['node-a', 'node-b'], membership: MEMORY.cluster().create, options: { misroute } });
    [proxy, refuse] = await Promise.all([start('proxy'), start('refuse')]);
    wireWebSockets(proxy);
    wireWebSockets(refuse);
  });
  afterAll(async () => {
    await Promise.all([proxy.stop(), refuse.stop()]);
  });

  it('serves an owned key on this node (next)', async () => {
    const ws = new WebSocket(wsUrl(proxy.node('node-a').url, `/live?key=${proxy.keyOwnedBy('node-a')}`));
    await once(ws, 'open');
    ws.send('hi');
    expect(await nextJson(ws)).toEqual({ node: 'node-a', echo: 'hi', hops: null });
    ws.close();
  });

  it("proxies another node's key to its owner: messages both ways, close codes kept in both directions", async () => {
    const key = proxy.keyOwnedBy('node-b');
    const ws = new WebSocket(wsUrl(proxy.node('node-a').url, `/live?key=${key}`));
    await once(ws, 'open');
    for (const text of ['one', 'two', 'x'.repeat(200_000)]) {
      ws.send(text);
      expect(await nextJson(ws)).toEqual({ node: 'node-b', echo: text, hops: '1' });
    }
    ws.send('close:4002');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect([code, reason.toString()]).toEqual([4002, 'node-b closes']);

    const second = new WebSocket(wsUrl(proxy.node('node-a').url, `/live?key=${key}`));
    await once(second, 'open');
    const before = closes.get('node-b')!.length;
    second.close(4100, 'client leaves');
    await once(second, 'close');
    await until(() => closes.get('node-b')!.length > before, 'the owner to see the close');
    expect(closes.get('node-b')!.at(-1)).toEqual([4100, 'client leaves']);
    expect(proxy.node('node-a').rr.router.counters.proxy).toBeGreaterThanOrEqual(2);
  });

  it('falls back to the next candidate when the owner is unreachable, as HTTP requests do', async () => {
    const lonely = await startCluster({
      express,
      ids: ['node-a', 'node-b'],
      membership: MEMORY.cluster().create,
      options: { misroute: 'proxy' },
    });
    try {
      wireWebSockets(lonely);
      const key = lonely.keyOwnedBy('node-b');
      // node-b stops listening but stays in the ring: its address refuses connections.
      lonely.node('node-b').server.close();
      lonely.node('node-b').server.closeAllConnections();
      const ws = new WebSocket(wsUrl(lonely.node('node-a').url, `/live?key=${key}`));
      await once(ws, 'open');
      ws.send('still here');
      expect(await nextJson(ws)).toEqual({ node: 'node-a', echo: 'still here', hops: '1' });
      ws.close();
    } finally {
      await lonely.stop();
    }
  });

  it('refuses with 421 carrying the owner in refuse mode, before any handshake', async () => {
    const ws = new WebSocket(wsUrl(refuse.node('node-a').url, `/live?key=${refuse.keyOwnedBy('node-b')}`));
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(421);
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(JSON.parse(body)).toMatchObject({ reason: 'not-owner', owner: { id: 'node-b', url: refuse.node('node-b').url } });
  });

  it('answers 400 for an upgrade without a key', async () => {
    const ws = new WebSocket(wsUrl(refuse.node('node-a').url, '/live'));
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(400);
  });
});
