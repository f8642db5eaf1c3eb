import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryBus, MemoryMembership, type Membership, type NodeSpec } from '@ringroute/ring-core';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/**
 * What a busy 2-core machine may add to a bound derived from configured intervals: timers fire late and processes wait
 * for a core (measured: well under 200 ms beside two CPU hogs at load 13; this leaves room for worse).
 */
export const SCHEDULING_MARGIN = 1000;

export interface TestNode {
  spec: Required<Pick<NodeSpec, 'id' | 'url'>>;
  port: number;
  app: FastifyInstance;
  membership: Membership;
}

/** Node specs on free loopback ports: n0, n1, ... */
export async function nodeSpecs(size: number) {
  const ports = await Promise.all(Array.from({ length: size }, freePort));
  return ports.map((port, i) => ({ port, spec: { id: `n${i}`, url: `http://127.0.0.1:${port}` } }));
}

/**
 * A Fastify app with the plugin and test routes that report which node served them:
 * GET /doc?key=, GET /items/:id (per-route key), GET /open (opted out), POST /echo (streams the body, answers its size + sha256).
 */
export async function startNode(
  spec: TestNode['spec'],
  port: number,
  membership: Membership,
  options: Partial<RingRouteOptions> = {},
): Promise<TestNode> {
  const app = Fastify({ logger: false });
  await app.register(ringRoute, { membership, key: 'query:key', ...options });
  const report = (request: import('fastify').FastifyRequest) => ({
    node: spec.id,
    key: request.ringRoute?.key ?? null,
    owner: request.ringRoute?.owner?.id ?? null,
    reason: request.ringRoute?.decision.reason ?? null,
    query: request.query,
    headers: request.headers,
  });
  app.get('/doc', async (request) => report(request));
  app.get('/items/:id', { config: { ringRoute: { key: 'params:id' } } }, async (request) => report(request));
  app.get('/open', { config: { ringRoute: false } }, async (request) => report(request));
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  app.post('/echo', async (request) => {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of request.body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { ...report(request), headers: undefined, bytes, sha256: hash.digest('hex') };
  });
  await app.listen({ port, host: '127.0.0.1' });
  return { spec, port, app, membership };
}

/** `size` nodes (n0, n1, ...) sharing one in-process bus, once every ring has all of them. */
export async function memoryNodes(size: number, options: Partial<RingRouteOptions> = {}): Promise<TestNode[]> {
  const specs = await nodeSpecs(size);
  const bus = new MemoryBus();
  const nodes = await Promise.all(specs.map(({ spec, port }) => startNode(spec, port, new MemoryMembership({ bus, self: spec }), options)));
  await converge(
    nodes.map((n) => n.membership),
    specs.map(({ spec }) => spec.id),
  );
  return nodes;
}

/** Waits until every membership's ring has exactly `ids` (routable or not). */
export async function converge(memberships: Membership[], ids: string[], timeoutMs = 10_000): Promise<void> {
  const want = [...ids].sort().join(',');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rings = memberships.map((m) => (m.ready ? m.ring.nodes.map((n) => n.id).join(',') : ''));
    if (rings.every((r) => r === want)) return;
    if (Date.now() > deadline) throw new Error(`rings did not converge on ${want}: ${JSON.stringify(rings)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A key whose owner under `membership`'s ring is `id`. */
export function keyOwnedBy(membership: Membership, id: string, prefix = 'doc'): string {
  for (let i = 0; i < 100_000; i++) if (membership.ring.owner(`${prefix}-${i}`)?.id === id) return `${prefix}-${i}`;
  throw new Error(`no key owned by ${id}`);
}

/** Streams `size` bytes of deterministic data in chunks, with its sha256. */
export function streamedBody(size: number) {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; sent += chunk.length) hash.update(chunk.subarray(0, Math.min(chunk.length, size - sent)));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
      sent += part.length;
      controller.enqueue(part);
    },
  });
  return { body, sha256: hash.digest('hex') };
}
