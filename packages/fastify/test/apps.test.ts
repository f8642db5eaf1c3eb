import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { ringRoute } from '@ringroute/fastify';
import { converge, keyOwnedBy, nodeSpecs } from './helpers.js';

/**
 * Apps as people already have them: their own @fastify/reply-from with a `base` (an older service behind
 * GET /legacy), a body parser of their own (application/x-csv), and app-wide hooks (a header set on every reply
 * like @fastify/cors, a request count on response like a metrics plugin). n0 registers reply-from before RingRoute,
 * n1 after it; both proxy misrouted keys to their owner.
 */
let legacy: Server;
let legacyUrl: string;
const apps: FastifyInstance[] = [];
const memberships: Membership[] = [];
let urls: string[];
/** What each app's onResponse hook saw: `${node} ${status} ${url}`. */
const responses: string[] = [];

async function startApp(id: string, port: number, membership: Membership, replyFromFirst: boolean): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const own = () => app.register(replyFrom, { base: legacyUrl });
  // onRequest hooks run in registration order: this one, registered before RingRoute, runs before the routing hook.
  app.addHook('onRequest', async (_request, reply) => void reply.header(`x-seen-by-${id}`, '1'));
  if (replyFromFirst) await own();
  await app.register(ringRoute, { membership, key: 'query:key', misroute: 'proxy' });
  if (!replyFromFirst) await own();
  app.addHook('onResponse', async (request, reply) => void responses.push(`${id} ${reply.statusCode} ${request.url}`));
  app.addContentTypeParser('application/x-csv', { parseAs: 'string' }, (_request, body, done) =>
    done(
      null,
      (body as string)
        .trim()
        .split('\n')
        .map((line) => line.split(',')),
    ),
  );
  app.post('/data', async (request) => ({ node: id, length: request.headers['content-length'], body: request.body }));
  app.get('/legacy', { config: { ringRoute: false } }, (_request, reply) => reply.from('/old'));
  await app.listen({ port, host: '127.0.0.1' });
  return app;
}

beforeAll(async () => {
  legacy = createServer((req, res) =>
    res.setHeader('content-type', 'application/json').end(JSON.stringify({ legacy: true, url: req.url })),
  );
  await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
  legacyUrl = `http://127.0.0.1:${(legacy.address() as AddressInfo).port}`;
  const specs = await nodeSpecs(2);
  const bus = new MemoryBus();
  for (const [i, { spec, port }] of specs.entries()) {
    const membership = new MemoryMembership({ bus, self: spec });
    memberships.push(membership);
    apps.push(await startApp(spec.id, port, membership, i === 0));
  }
  await converge(memberships, ['n0', 'n1']);
  urls = specs.map(({ spec }) => spec.url);
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await new Promise<void>((resolve) => legacy.close(() => resolve()));
});

describe.each([
  { entry: 0, owner: 'n1', order: 'registered reply-from with its own base before RingRoute' },
  { entry: 1, owner: 'n0', order: 'registered reply-from with its own base after RingRoute' },
])('an app that $order', ({ entry, owner }) => {
  const post = async (contentType: string, body: string) => {
    const key = keyOwnedBy(memberships[0]!, owner);
    const res = await fetch(`${urls[entry]}/data?key=${key}`, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(200);
    return res.json();
  };

  it('proxies a misrouted POST to the owner, not to its base, with the bytes its own parser reads there', async () => {
    const csv = 'a,b\nc,d\n';
    expect(await post('application/x-csv', csv)).toEqual({
      node: owner,
      length: String(csv.length),
      body: [
        ['a', 'b'],
        ['c', 'd'],
      ],
    });
  });

  it('proxies a JSON body intact', async () => {
    const json = JSON.stringify({ name: 'ünïcode', n: [1, 2] });
    expect(await post('application/json', json)).toEqual({
      node: owner,
      length: String(Buffer.byteLength(json)),
      body: { name: 'ünïcode', n: [1, 2] },
    });
  });

  it("keeps the app's hooks: headers they set go out with the owner's response, onResponse counts the proxied request", async () => {
    const key = keyOwnedBy(memberships[0]!, owner);
    const url = `/data?key=${key}&hooks=1`;
    const res = await fetch(`${urls[entry]}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ node: owner });
    // The entry node's hook header, and the owner's own (its response headers come through).
    expect(res.headers.get(`x-seen-by-n${entry}`)).toBe('1');
    expect(res.headers.get(`x-seen-by-${owner}`)).toBe('1');
    await expect
      .poll(() => responses.filter((line) => line.endsWith(url)))
      .toEqual(expect.arrayContaining([`n${entry} 200 ${url}`, `${owner} 200 ${url}`]));
  });

  it("keeps the app's own reply.from going to its base", async () => {
    const res = await fetch(`${urls[entry]}/legacy`);
    expect(await res.json()).toEqual({ legacy: true, url: '/old' });
  });
});
