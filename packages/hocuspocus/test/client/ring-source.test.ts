import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRing, type Ring, type RingSnapshotJSON } from '@ringroute/ring-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RING_PATH } from '../../src/hint/index.js';
import { RingSource, fetchRing, type FetchLike } from '../../src/client/ring-source.js';

/** A real HTTP server answering the ring endpoint with whatever `answer` holds, counting requests. */
async function ringServer(answer: { status: number; body: unknown }) {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== RING_PATH) return void res.writeHead(404).end();
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, answer, requests: () => requests, close: () => new Promise((r) => server.close(r)) };
}

const fetchImpl = fetch as unknown as FetchLike;
let ring: Ring;
const servers: Awaited<ReturnType<typeof ringServer>>[] = [];

beforeAll(async () => {
  ring = await createRing({
    epoch: 3,
    nodes: [
      { id: 'n1', url: 'ws://127.0.0.1:1' },
      { id: 'n2', url: 'ws://127.0.0.1:2' },
    ],
  });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(status: number, body: unknown) {
  const server = await ringServer({ status, body });
  servers.push(server);
  return server;
}

describe('fetchRing', () => {
  it('recreates the ring a node serves, with the same owners', async () => {
    const node = await serve(200, ring.toJSON());
    const fetched = await fetchRing(node.url, fetchImpl, 2000);
    expect(fetched.epoch).toBe(3);
    expect(fetched.checksum).toBe(ring.checksum);
    for (let i = 0; i < 50; i++) expect(fetched.owner(`doc-${i}`)?.id).toBe(ring.owner(`doc-${i}`)?.id);
  });

  it('fails on an error status or a body that is not a ring', async () => {
    await expect(fetchRing((await serve(503, {})).url, fetchImpl, 2000)).rejects.toThrow(/answered 503/);
    await expect(fetchRing((await serve(200, { hello: 1 })).url, fetchImpl, 2000)).rejects.toThrow(/not answer a ring/);
    const bad: RingSnapshotJSON = { ...ring.toJSON(), nodes: [{ id: '' }] };
    await expect(fetchRing((await serve(200, bad)).url, fetchImpl, 2000)).rejects.toThrow(/nodes\[0\]\.id/);
  });
});

describe('RingSource', () => {
  it('falls over to the next node when a seed is down', async () => {
    const live = await serve(200, ring.toJSON());
    const source = new RingSource(['http://127.0.0.1:1', live.url], fetchImpl, 2000, () => {});
    expect((await source.get()).checksum).toBe(ring.checksum);
  });

  it('shares one request between concurrent refreshes and reports each new ring once', async () => {
    const node = await serve(200, ring.toJSON());
    const seen: number[] = [];
    const source = new RingSource([node.url], fetchImpl, 2000, (r) => seen.push(r.epoch));
    const [a, b] = await Promise.all([source.refresh(), source.refresh()]);
    expect(a).toBe(b);
    expect(node.requests()).toBe(1);
    await source.refresh();
    expect(seen).toEqual([3]);
  });

  it('never replaces its ring with an older epoch, and takes a newer one', async () => {
    const node = await serve(200, ring.toJSON());
    const source = new RingSource([node.url], fetchImpl, 2000, () => {});
    await source.get();
    node.answer.body = (await createRing({ epoch: 2, nodes: [{ id: 'old', url: 'ws://127.0.0.1:3' }] })).toJSON();
    expect((await source.refresh()).epoch).toBe(3);
    const newer = ring.with({ add: [{ id: 'n3', url: 'ws://127.0.0.1:4' }] });
    node.answer.body = newer.toJSON();
    expect((await source.refresh()).checksum).toBe(newer.checksum);
    expect(source.ring?.epoch).toBe(4);
  });

  it('rejects with every node named when none answers', async () => {
    const source = new RingSource(['http://127.0.0.1:1', 'http://127.0.0.1:2'], fetchImpl, 2000, () => {});
    await expect(source.get()).rejects.toThrow(
      /could not fetch the ring from any node \(http:\/\/127\.0\.0\.1:1, http:\/\/127\.0\.0\.1:2\)/,
    );
  });
});
