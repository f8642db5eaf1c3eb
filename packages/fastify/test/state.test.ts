import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { ringRoute } from '@ringroute/fastify';
import { freePort } from './helpers.js';

interface Node {
  id: string;
  url: string;
  app: FastifyInstance;
  membership: Membership;
}

/** A counter per key kept with `app.ringRoute.state`, on real Fastify servers sharing a bus, in proxy mode. */
async function counterNode(bus: MemoryBus, id: string): Promise<Node> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const membership = new MemoryMembership({ bus, self: { id, url } });
  const app = Fastify();
  await app.register(ringRoute, { membership, key: 'params:key', misroute: 'proxy' });
  const hits = app.ringRoute.state<{ n: number }>('hits');
  app.post<{ Params: { key: string } }>('/hits/:key', async (request) => ({
    node: id,
    ...(await hits.update(request.params.key, (current) => ({ n: (current?.n ?? 0) + 1 }))),
  }));
  app.get<{ Params: { key: string } }>('/hits/:key', async (request) => ({ node: id, n: (await hits.get(request.params.key))?.n ?? 0 }));
  // Not routed: reaches the state on whichever node gets it.
  app.get<{ Params: { key: string } }>('/local/:key', { config: { ringRoute: false } }, async (request) => hits.get(request.params.key));
  await app.listen({ port, host: '127.0.0.1' });
  return { id, url, app, membership };
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const settled = (nodes: Node[], members: number) =>
  until(() => nodes.every((n) => n.app.ringRoute.ring?.nodes.length === members && n.app.ringRoute.stats().handoff?.settled === true));

describe('owned state on Fastify (app.ringRoute.state)', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.app.close();
  });

  it('keeps each key on its owner, moves it to a joining node, and counts the move in stats and metrics', async () => {
    const bus = new MemoryBus();
    for (const id of ['a', 'b']) nodes.push(await counterNode(bus, id));
    await settled(nodes, 2);
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    for (const key of keys) for (const node of nodes) expect((await fetch(`${node.url}/hits/${key}`, { method: 'POST' })).status).toBe(200);

    nodes.push(await counterNode(bus, 'c'));
    await settled(nodes, 3);
    const c = nodes[2]!;
    const movedToC = keys.filter((key) => c.membership.ring.owner(key)?.id === 'c');
    expect(movedToC.length).toBeGreaterThan(5);
    for (const key of keys) {
      const owner = c.membership.ring.owner(key)!.id;
      expect(await (await fetch(`${nodes[0]!.url}/hits/${key}`)).json()).toEqual({ node: owner, n: 2 });
    }
    const stats = c.app.ringRoute.stats();
    expect(stats.handoff).toMatchObject({ received: movedToC.length, held: { hits: movedToC.length }, settled: true });
    const metrics = await (await fetch(`${nodes[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/ringroute_handoff_keys_total\{node="a",outcome="done"\} [1-9]/);
    expect(metrics).toContain('ringroute_owned_keys{node="a",name="hits"}');
    const custody = await (await fetch(`${c.url}/api/routes/handoff?key=${movedToC[0]}`)).json();
    expect(custody).toMatchObject({ key: movedToC[0], owner: 'c', custody: 'owned', held: { hits: expect.any(Number) } });
  });

  it('a state operation on a node that does not own the key answers 503 with Retry-After (never a second copy)', async () => {
    const bus = new MemoryBus();
    for (const id of ['a', 'b']) nodes.push(await counterNode(bus, id));
    await settled(nodes, 2);
    const key = Array.from({ length: 50 }, (_, i) => `x${i}`).find((k) => nodes[0]!.membership.ring.owner(k)?.id === 'b')!;
    const res = await fetch(`${nodes[0]!.url}/local/${key}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).message).toContain('"b" owns this key');
  });

  it('refuses bad state options at registration, and bad or repeated state names', async () => {
    const base = { nodes: [{ id: 'a', url: 'http://127.0.0.1:1' }], self: 'a', key: 'query:key' } as const;
    for (const [state, message] of [
      [{ maxValueBytes: -1 }, 'state.maxValueBytes: must be between'],
      [{ batchSzie: 2 }, 'state.batchSzie: unknown option (did you mean `batchSize`?)'],
    ] as const) {
      const app = Fastify();
      app.register(ringRoute, { ...base, state: state as never });
      await expect(app.ready()).rejects.toThrow(message);
      await app.close();
    }
    const app = Fastify();
    await app.register(ringRoute, base);
    expect(() => app.ringRoute.state('bad:name')).toThrow('name: must be 1 to 64 letters');
    app.ringRoute.state('carts');
    expect(() => app.ringRoute.state('carts')).toThrow('exists already');
    expect(() => app.ringRoute.adopt('buckets', {} as never)).toThrow('port: must have export, import, delete and keys');
    await app.close();
  });
});
