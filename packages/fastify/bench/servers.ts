/**
 * The servers of the benchmark, in one child process (so autocannon's load generation never shares their event
 * loop). Prints one JSON line with the URL of each scenario, then serves until killed.
 */
import { createServer } from 'node:http';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';
import { undiciProxy } from '../../ring-core/bench/support/undici-proxy.js';

const handler = async () => ({ hello: 'world' });

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/** A free loopback port, so members can announce their URL before their server listens. */
async function freeUrl(): Promise<string> {
  const probe = Fastify();
  const url = await listen(probe);
  await probe.close();
  return url;
}

/** Two members on one bus: `front` (the node the load hits) and `owner`. */
async function pair(misroute: RingRouteOptions['misroute']) {
  const bus = new MemoryBus();
  const nodes: { url: string; membership: Membership }[] = [];
  for (const id of ['front', 'owner']) {
    const url = await freeUrl();
    const membership = new MemoryMembership({ bus, self: { id, url } });
    const app = Fastify();
    await app.register(ringRoute, { membership, key: 'query:key', misroute });
    app.get('/doc', handler);
    await app.listen({ port: Number(new URL(url).port), host: '127.0.0.1' });
    await membership.start();
    nodes.push({ url, membership });
  }
  const ring = () => nodes[0]!.membership.ring;
  while (ring().nodes.length < 2) await new Promise((r) => setTimeout(r, 5));
  const keyOf = (id: string) => {
    for (let i = 0; ; i++) if (ring().owner(`session-${i}`)?.id === id) return `session-${i}`;
  };
  return { front: nodes[0]!.url, owner: nodes[1]!.url, ownedKey: keyOf('front'), remoteKey: keyOf('owner') };
}

const bare = Fastify();
bare.get('/doc', handler);
const bareUrl = await listen(bare);

const redirect = await pair('redirect');
const proxy = await pair('proxy');

const peer = Fastify();
await peer.register(replyFrom, { base: proxy.owner, disableRequestLogging: true });
peer.get('/doc', (request, reply) => reply.from(request.url));
// The same peer adding the headers every RingRoute proxy hop carries (hops, X-Forwarded-*):
// separates the cost the issue requires from the plugin's own.
peer.get('/doc-with-headers', (request, reply) =>
  reply.from(request.url.replace('/doc-with-headers', '/doc'), {
    rewriteRequestHeaders: (_request, headers) =>
      Object.assign(headers, {
        'x-ringroute-hops': '1',
        'x-forwarded-for': request.socket.remoteAddress,
        'x-forwarded-proto': 'http',
        'x-forwarded-host': request.headers.host,
      }),
  }),
);
const toOwner = undiciProxy(new URL(proxy.owner).origin);
peer.get('/doc-undici', (request, reply) => {
  reply.hijack();
  toOwner(request.raw, reply.raw, request.url.replace('/doc-undici', '/doc'));
});
const peerUrl = await listen(peer);

// CPU time of this process, so the runner can report CPU per request (far less sensitive to other load than req/s).
const meter = createServer((_req, res) => res.end(JSON.stringify(process.cpuUsage())));
await new Promise<void>((resolve) => meter.listen(0, '127.0.0.1', resolve));
const meterUrl = `http://127.0.0.1:${(meter.address() as { port: number }).port}/`;

const path = (key: string) => `/doc?key=${key}`;
process.stdout.write(
  `${JSON.stringify({
    bare: `${bareUrl}${path(redirect.ownedKey)}`,
    owned: `${redirect.front}${path(redirect.ownedKey)}`,
    redirect: `${redirect.front}${path(redirect.remoteKey)}`,
    proxy: `${proxy.front}${path(proxy.remoteKey)}`,
    replyFrom: `${peerUrl}${path(proxy.remoteKey)}`,
    replyFromHeaders: `${peerUrl}${path(proxy.remoteKey).replace('/doc', '/doc-with-headers')}`,
    undici: `${peerUrl}${path(proxy.remoteKey).replace('/doc', '/doc-undici')}`,
    meter: meterUrl,
  })}\n`,
);
