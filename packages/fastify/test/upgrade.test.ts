import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { ringRoute } from '@ringroute/fastify';
import { converge, keyOwnedBy, nodeSpecs, waitFor } from './helpers.js';

/** Close codes and reasons each node's echo route received. */
const closes = new Map<string, [number, string][]>();

interface WsCluster {
  apps: FastifyInstance[];
  urls: Map<string, string>;
  membership: Membership;
}

/**
 * Two Fastify nodes with @fastify/websocket: GET /live is a websocket route echoing with its node id, and closing
 * with the code a client asks for ("close:<code>"). Upgrades run through Fastify's routing, so RingRoute's hook
 * decides them like any request.
 */
async function startCluster(misroute: 'proxy' | 'refuse'): Promise<WsCluster> {
  const specs = await nodeSpecs(2);
  const bus = new MemoryBus();
  const memberships: Membership[] = [];
  const apps: FastifyInstance[] = [];
  for (const { spec, port } of specs) {
    const membership = new MemoryMembership({ bus, self: spec });
    memberships.push(membership);
    const app = Fastify({ logger: false });
    await app.register(websocket);
    await app.register(ringRoute, { membership, key: 'query:key', misroute });
    closes.set(`${misroute}:${spec.id}`, []);
    app.get('/live', { websocket: true }, (socket, request) => {
      socket.on('close', (code, reason) => closes.get(`${misroute}:${spec.id}`)!.push([code, reason.toString()]));
      socket.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('close:')) return socket.close(Number(text.slice(6)), `${spec.id} closes`);
        socket.send(
          JSON.stringify({
            node: spec.id,
            echo: text,
            owner: request.ringRoute?.owner?.id ?? null,
            hops: request.headers['x-ringroute-hops'] ?? null,
          }),
        );
      });
    });
    await app.listen({ port, host: '127.0.0.1' });
    apps.push(app);
  }
  await converge(memberships, ['n0', 'n1']);
  return { apps, urls: new Map(specs.map(({ spec }) => [spec.id, spec.url.replace('http', 'ws')])), membership: memberships[0]! };
}

async function nextJson(ws: WebSocket): Promise<Record<string, unknown>> {
  const [data] = await once(ws, 'message');
  return JSON.parse(String(data)) as Record<string, unknown>;
}

async function refusal(ws: WebSocket): Promise<{ status: number; body: string }> {
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode!, body };
}

describe('@fastify/websocket routes go through the routing hook', () => {
  let proxy: WsCluster;
  let refuse: WsCluster;
  beforeAll(async () => {
    [proxy, refuse] = await Promise.all([startCluster('proxy'), startCluster('refuse')]);
  });
  afterAll(async () => {
    for (const app of [...proxy.apps, ...refuse.apps]) await app.close();
  });

  it('serves an owned key on this node', async () => {
    const key = keyOwnedBy(proxy.membership, 'n0');
    const ws = new WebSocket(`${proxy.urls.get('n0')}/live?key=${key}`);
    await once(ws, 'open');
    ws.send('local');
    expect(await nextJson(ws)).toEqual({ node: 'n0', echo: 'local', owner: 'n0', hops: null });
    ws.close();
  });

  it('proxies the upgrade to the owner: messages both ways, close codes kept in both directions', async () => {
    const key = keyOwnedBy(proxy.membership, 'n1');
    const ws = new WebSocket(`${proxy.urls.get('n0')}/live?key=${key}`);
    await once(ws, 'open');
    for (const text of ['one', 'two', 'y'.repeat(100_000)]) {
      ws.send(text);
      expect(await nextJson(ws)).toEqual({ node: 'n1', echo: text, owner: 'n1', hops: '1' });
    }
    ws.send('close:4003');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect([code, reason.toString()]).toEqual([4003, 'n1 closes']);

    const second = new WebSocket(`${proxy.urls.get('n0')}/live?key=${key}`);
    await once(second, 'open');
    const seen = closes.get('proxy:n1')!;
    const before = seen.length;
    second.close(4200, 'client leaves');
    await once(second, 'close');
    await waitFor(() => seen.length > before, 'the owner to see the close');
    expect(seen.at(-1)).toEqual([4200, 'client leaves']);
  });

  it('refuses with 421 carrying the owner in refuse mode', async () => {
    const key = keyOwnedBy(refuse.membership, 'n1');
    const { status, body } = await refusal(new WebSocket(`${refuse.urls.get('n0')}/live?key=${key}`));
    expect(status).toBe(421);
    expect(JSON.parse(body)).toMatchObject({ reason: 'not-owner', owner: { id: 'n1', url: refuse.urls.get('n1')!.replace('ws', 'http') } });
  });

  it('answers 400 to an upgrade without a key', async () => {
    const { status, body } = await refusal(new WebSocket(`${proxy.urls.get('n0')}/live`));
    expect(status).toBe(400);
    expect(JSON.parse(body)).toMatchObject({ reason: 'missing-key' });
  });
});
