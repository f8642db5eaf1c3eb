import Fastify, { type FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';

/**
 * Fastify refuses a path parameter longer than its `routerOptions.maxParamLength` (default 100) itself, before any
 * hook runs, with a 414 that repeats the path. RingRoute's own limit is `maxKeyLength` (default 512).
 */
const NODES = [{ id: 'a', url: 'http://127.0.0.1:1' }];
const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(server: FastifyServerOptions, options: Partial<RingRouteOptions>, declare = true) {
  const app = Fastify(server);
  apps.push(app);
  await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'params:id', ...options } as RingRouteOptions);
  if (declare) {
    app.get('/docs/:id', async () => 'served');
    app.get('/by-header', { config: { ringRoute: { key: 'header:x-key' } } }, async () => 'served');
    app.get('/by-query', { config: { ringRoute: { key: 'query:key' } } }, async () => 'served');
  }
  await app.ready();
  return app;
}

const startError = (server: FastifyServerOptions, options: Partial<RingRouteOptions>) =>
  (async () => {
    const app = Fastify(server);
    apps.push(app);
    app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:key', ...options } as RingRouteOptions);
    await app.ready();
  })().then(
    () => undefined,
    (error: unknown) => error,
  );

describe("a maxKeyLength Fastify's maxParamLength would cut short", () => {
  it('fails at start for a params: key, naming both options and the fix', async () => {
    const error = await startError({}, { key: 'params:id', maxKeyLength: 512 });
    expect(error).toBeInstanceOf(RingRouteConfigError);
    expect((error as RingRouteConfigError).option).toBe('maxKeyLength');
    expect((error as Error).message).toBe(
      "maxKeyLength: 512 is more than Fastify's routerOptions.maxParamLength (100), and Fastify refuses longer path parameters " +
        'before RingRoute sees them: create Fastify with { routerOptions: { maxParamLength: 512 } }, or set maxKeyLength to 100 or less',
    );
  });

  it("fails at start for a route's own params: key too", async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(ringRoute, { nodes: NODES, self: 'a', key: 'query:key', maxKeyLength: 200 });
    expect(() => app.get('/items/:item', { config: { ringRoute: { key: 'params:item' } } }, async () => 'served')).toThrow(
      /^maxKeyLength: 200 is more than Fastify's routerOptions\.maxParamLength \(100\).*\(route GET \/items\/:item\)$/,
    );
  });

  it('starts when Fastify allows the parameters, or maxKeyLength stays within its limit, or the key is not a parameter', async () => {
    await start({ routerOptions: { maxParamLength: 512 } }, { maxKeyLength: 512 });
    await start({}, { maxKeyLength: 100 });
    await start({}, {}); // the default maxKeyLength: Fastify's limit simply applies to path parameters first
    await start({}, { key: 'query:key', maxKeyLength: 4096 }, false);
  });
});

describe('an over-long key', () => {
  it('is answered by RingRoute (414 in the path or query, 431 in a header) without repeating the key', async () => {
    const app = await start({ routerOptions: { maxParamLength: 1000 } }, { maxKeyLength: 512 });
    const within = 'k'.repeat(300);
    expect((await app.inject({ url: `/docs/${within}` })).statusCode).toBe(200); // longer than Fastify's default 100
    const key = `${'x'.repeat(600)}-secret`;
    for (const [request, status] of [
      [{ url: `/docs/${key}` }, 414],
      [{ url: `/by-query?key=${key}` }, 414],
      [{ url: '/by-header', headers: { 'x-key': key } }, 431],
    ] as const) {
      const res = await app.inject(request);
      expect(res.statusCode).toBe(status);
      expect(res.json()).toMatchObject({ reason: 'key-too-long', maxKeyLength: 512 });
      expect(res.body).not.toContain('-secret');
      expect(res.body.length).toBeLessThan(300);
    }
  });
});
