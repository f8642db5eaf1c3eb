import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { jsonAnswer } from '@ringroute/ring-core/http';
import { proxyUpgrade, writeUpgradeAnswer, type UpgradeResult } from '@ringroute/ring-core/node';

/**
 * A real `ws` echo server plays the owner; a plain Node server plays the proxying node: its 'upgrade' listener
 * calls proxyUpgrade() towards the URL in the `x-target` header and records how it ended.
 */
let owner: Server;
let ownerUrl: string;
let proxy: Server;
let proxyUrl: string;
let deadUrl: string;
const seenByOwner: IncomingMessage[] = [];
const results: UpgradeResult[] = [];
const ownerCloses: [number, string][] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  owner = createServer();
  const wss = new WebSocketServer({
    server: owner,
    verifyClient: ({ req }, done) => (req.url?.startsWith('/private') ? done(false, 401, 'Unauthorized') : done(true)),
  });
  wss.on('connection', (socket, req) => {
    seenByOwner.push(req);
    socket.on('close', (code, reason) => ownerCloses.push([code, reason.toString()]));
    socket.on('message', (data, binary) => {
      const text = data.toString();
      if (text.startsWith('close:')) return socket.close(Number(text.slice(6)), `bye ${text.slice(6)}`);
      socket.send(binary ? data : `echo:${text}`, { binary });
    });
  });
  ownerUrl = `http://${await listen(owner)}`;

  const dead = createServer();
  deadUrl = `http://${await listen(dead)}`;
  await new Promise<void>((resolve) => dead.close(() => resolve()));

  proxy = createServer((_req, res) => res.end('plain http'));
  proxy.on('upgrade', (req: IncomingMessage, socket, head) => {
    const target = `${req.headers['x-target'] as string}${req.url}`;
    void proxyUpgrade(req, socket, head, target, { 'x-ringroute-hops': '1' }).then((result) => {
      results.push(result);
      if (!result.sent)
        writeUpgradeAnswer(socket, jsonAnswer(503, { error: 'Service Unavailable', code: (result.error as NodeJS.ErrnoException).code }));
    });
  });
  proxyUrl = `ws://${await listen(proxy)}`;
});

afterAll(async () => {
  for (const server of [proxy, owner]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const connect = (path: string, target: string, protocols?: string[]) =>
  new WebSocket(`${proxyUrl}${path}`, protocols, { headers: { 'x-target': target } });

/** The status and body of a refused handshake. */
async function refusal(ws: WebSocket): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode!, body, headers: res.headers };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** How the proxying node's proxyUpgrade() call for the next upgrade (the one after `before` results) ended. */
async function resultAfter(before: number): Promise<UpgradeResult> {
  await until(() => results.length > before, 'the upgrade to be proxied');
  expect(results).toHaveLength(before + 1);
  return results[before]!;
}

describe('proxyUpgrade', () => {
  it('pipes a WebSocket through: messages both ways, binary frames, pings and the close code and reason', async () => {
    const before = results.length;
    const ws = connect('/chat?key=k1', ownerUrl, ['chat.v1']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat.v1');
    const owned = seenByOwner.at(-1)!;
    expect(owned.url).toBe('/chat?key=k1');
    expect(owned.headers['x-ringroute-hops']).toBe('1');
    expect(owned.headers['x-target']).toBe(ownerUrl);

    ws.send('hello');
    expect(String((await once(ws, 'message'))[0])).toBe('echo:hello');
    const bytes = Buffer.from([0, 255, 1, 254]);
    ws.send(bytes);
    const [echoed, binary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect(binary).toBe(true);
    expect(Buffer.from(echoed)).toEqual(bytes);
    ws.ping('are you there');
    expect(String((await once(ws, 'pong'))[0])).toBe('are you there');

    ws.send('close:4001');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(4001);
    expect(reason.toString()).toBe('bye 4001');
    expect(await resultAfter(before)).toEqual({ sent: true });
  });

  it('relays a client-initiated close code and reason to the owner', async () => {
    const ws = connect('/chat', ownerUrl);
    await once(ws, 'open');
    const before = ownerCloses.length;
    ws.close(4321, 'client done');
    await once(ws, 'close');
    await until(() => ownerCloses.length > before, "the owner's close");
    expect(ownerCloses.at(-1)).toEqual([4321, 'client done']);
  });

  it("relays the owner's refusal of the handshake as it is", async () => {
    const before = results.length;
    const { status } = await refusal(connect('/private', ownerUrl));
    expect(status).toBe(401);
    expect(await resultAfter(before)).toEqual({ sent: true }); // sent: the owner's answer reached the client
  });

  it('reports an unreachable owner without touching the socket, so the caller can answer it', async () => {
    const before = results.length;
    const { status, body } = await refusal(connect('/chat', deadUrl));
    expect(status).toBe(503);
    expect(JSON.parse(body)).toEqual({ error: 'Service Unavailable', code: 'ECONNREFUSED' });
    expect((await resultAfter(before)).sent).toBe(false);
  });
});

describe('writeUpgradeAnswer', () => {
  it('writes a complete HTTP answer onto the raw socket and closes it', async () => {
    const server = createServer();
    server.on('upgrade', (_req, socket) =>
      writeUpgradeAnswer(socket, jsonAnswer(421, { error: 'Misdirected Request', owner: { id: 'n2' } }, { 'x-bad': 'a\r\nb' })),
    );
    const address = await listen(server);
    try {
      const { status, body, headers } = await refusal(new WebSocket(`ws://${address}/x`));
      expect(status).toBe(421);
      expect(JSON.parse(body)).toEqual({ error: 'Misdirected Request', owner: { id: 'n2' } });
      expect(headers['content-type']).toBe('application/json; charset=utf-8');
      expect(headers['x-bad']).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
