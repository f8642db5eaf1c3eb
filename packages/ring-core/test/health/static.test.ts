import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthChecker, StaticMembership, type Membership, type NodeStatus } from '@ringroute/ring-core';
import { tcpProbe } from '@ringroute/ring-core/node';

const fast = { interval: 40, timeout: 300, retries: 2, backoffMultiplier: 1.5, maxBackoff: 150 };

/** An HTTP node whose /health answers `health.code`; close() takes it off the network entirely. */
async function httpNode(port = 0) {
  const health = { code: 200 };
  const server: Server = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? health.code : 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    health,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves with the transitions of `id` once `to` is reached. */
function statusReached(membership: Membership, id: string, to: NodeStatus): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    const listener = (node: { id: string }, from: NodeStatus, status: NodeStatus) => {
      if (node.id !== id) return;
      seen.push(`${from}->${status}`);
      if (status === to) {
        membership.off('status', listener);
        resolve(seen);
      }
    };
    membership.on('status', listener);
  });
}

describe('StaticMembership with health checks', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('HTTP: a node that goes down is suspected, then dead, and alive again when it comes back; other keys never move', async () => {
    const [a, b, c] = [await httpNode(), await httpNode(), await httpNode()];
    cleanup.push(a.close, c.close);
    const membership = new StaticMembership({
      nodes: [
        { id: 'a', url: a.url },
        { id: 'b', url: b.url },
        { id: 'c', url: c.url },
      ],
      self: 'a',
      healthCheck: fast,
    });
    cleanup.push(() => membership.stop());
    await membership.start();
    const before = membership.ring;
    const keys = Array.from({ length: 500 }, (_, i) => `doc-${i}`);

    const down = statusReached(membership, 'b', 'dead');
    await b.close();
    expect(await down).toEqual(['alive->suspected', 'suspected->dead']);
    const during = membership.ring;
    for (const key of keys) {
      const owner = before.owner(key)!.id;
      if (owner !== 'b') expect(during.owner(key)!.id).toBe(owner);
      else expect(during.owner(key)!.id).not.toBe('b');
    }
    expect(membership.ring.node('c')!.status).toBe('alive');

    const up = statusReached(membership, 'b', 'alive');
    const back = await httpNode(b.port);
    cleanup.push(back.close);
    expect(await up).toEqual(['dead->alive']);
    for (const key of keys) expect(membership.ring.owner(key)!.id).toBe(before.owner(key)!.id);
    expect(membership.healthStats().failures).toBeGreaterThanOrEqual(3);
  });

  it('HTTP: a non-2xx health answer counts as a failure', async () => {
    const [a, b] = [await httpNode(), await httpNode()];
    cleanup.push(a.close, b.close);
    const membership = new StaticMembership({
      nodes: [
        { id: 'a', url: a.url },
        { id: 'b', url: b.url },
      ],
      healthCheck: fast,
    });
    cleanup.push(() => membership.stop());
    await membership.start();
    const suspected = statusReached(membership, 'b', 'suspected');
    b.health.code = 503;
    expect(await suspected).toEqual(['alive->suspected']);
    const alive = statusReached(membership, 'b', 'alive');
    b.health.code = 200;
    expect(await alive).toEqual(['suspected->alive']);
  });

  it('TCP: the tcpProbe follows a listener that closes and reopens', async () => {
    const listen = (port: number) =>
      new Promise<ReturnType<typeof createTcpServer>>((resolve) => {
        const server = createTcpServer((socket) => socket.destroy());
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    let server = await listen(0);
    const { port } = server.address() as AddressInfo;
    const membership = new StaticMembership({
      nodes: [{ id: 'db', url: `tcp://127.0.0.1:${port}` }, { id: 'self' }],
      self: 'self',
      healthCheck: new HealthChecker({ ...fast, probe: tcpProbe() }),
    });
    cleanup.push(() => membership.stop());
    await membership.start();
    const dead = statusReached(membership, 'db', 'dead');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await dead).toEqual(['alive->suspected', 'suspected->dead']);
    const alive = statusReached(membership, 'db', 'alive');
    server = await listen(port);
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    expect(await alive).toEqual(['dead->alive']);
  });

  it('rejects invalid options naming them', () => {
    expect(() => new StaticMembership({ nodes: 'x' as never })).toThrow(/^nodes/);
    expect(() => new StaticMembership({ nodes: [{ id: 'a' }], self: 'z' })).toThrow(/^self/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { interval: -1 } })).toThrow(/healthCheck\.interval/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { retries: 1.5 } })).toThrow(/healthCheck\.retries/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { backoffMultiplier: 0.5 } })).toThrow(/healthCheck\.backoffMultiplier/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { interval: 100, maxBackoff: 50 } })).toThrow(/healthCheck\.maxBackoff/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { path: 'health' } })).toThrow(/healthCheck\.path/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { probe: 'icmp' as never } })).toThrow(/healthCheck\.probe/);
    expect(() => new StaticMembership({ nodes: [], healthCheck: { backoff: 2 } as never })).toThrow(
      'healthCheck.backoff: unknown option (did you mean `backoffMultiplier`?)',
    );
  });
});
