import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createRouter, type RingRouter } from '@ringroute/ring-core/http';
import { routeUpgrade } from '@ringroute/ring-core/node';

/**
 * One real node ("a") whose server routes upgrades with routeUpgrade(); the other three members' addresses refuse
 * connections. A key whose first three candidates are the dead nodes shows the whole fallback walk.
 */
let server: Server;
let router: RingRouter;
const failures: Record<string, unknown>[] = [];
const codeOf = (details: object) => (details as { err: NodeJS.ErrnoException }).err.code;

async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return url;
}

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dead = await Promise.all([deadUrl(), deadUrl(), deadUrl()]);
  router = createRouter({
    nodes: [{ id: 'a', url: self }, ...dead.map((url, i) => ({ id: `dead-${i}`, url }))],
    self: 'a',
    key: 'query:key',
    misroute: 'proxy',
  });
  await router.start();
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`a:${String(data)}`)));
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    void routeUpgrade(router, req, socket, head, {
      logger: {
        warn: (details) => failures.push({ level: 'warn', ...(details as { node: string }), err: codeOf(details) }),
        error: (details) => failures.push({ level: 'error', ...(details as { tried: string[] }), err: codeOf(details) }),
      },
    }).then((outcome) => outcome === 'local' && wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await router.close();
});

const url = (key: string) => `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live?key=${key}`;

function keyWhere(test: (ids: string[]) => boolean): string {
  for (let i = 0; ; i++) if (test(router.ring!.owners(`k${i}`, 4).map((n) => n.id))) return `k${i}`;
}

describe('routeUpgrade', () => {
  it('hands an owned key to the local WebSocket server', async () => {
    const ws = new WebSocket(url(keyWhere((ids) => ids[0] === 'a')));
    await once(ws, 'open');
    ws.send('hi');
    expect(String((await once(ws, 'message'))[0])).toBe('a:hi');
    ws.close();
  });

  it('tries the owner and the next candidates, then answers 503 naming every node tried', async () => {
    const key = keyWhere((ids) => ids[3] === 'a');
    const expected = router.ring!.owners(key, 3).map((n) => n.id);
    failures.length = 0;
    const ws = new WebSocket(url(key));
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(JSON.parse(body)).toMatchObject({ reason: 'proxy-failed', tried: expected });
    expect(failures).toEqual([
      { level: 'warn', node: expected[0], err: 'ECONNREFUSED' },
      { level: 'warn', node: expected[1], err: 'ECONNREFUSED' },
      { level: 'error', tried: expected, err: 'ECONNREFUSED' },
    ]);
    expect(router.counters.errorsByReason['proxy-failed']).toBe(1);
  });
});
