/**
 * The servers of the benchmark, in one child process (so autocannon's load generation never shares their event
 * loop). Prints one JSON line with the URL of each scenario, then serves until killed.
 */
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryBus, MemoryMembership, type Membership } from '@ringroute/ring-core';
import { ringRoute, type RingRouteOptions } from '@ringroute/fastify';

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
const peerUrl = await listen(peer);

const path = (key: string) => `/doc?key=${key}`;
process.stdout.write(
  `${JSON.stringify({
    bare: `${bareUrl}${path(redirect.ownedKey)}`,
    owned: `${redirect.front}${path(redirect.ownedKey)}`,
    redirect: `${redirect.front}${path(redirect.remoteKey)}`,
    proxy: `${proxy.front}${path(proxy.remoteKey)}`,
    replyFrom: `${peerUrl}${path(proxy.remoteKey)}`,
  })}\n`,
);
