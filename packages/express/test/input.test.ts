import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** node:http, because fetch neither sends a custom Host nor an absolute-form request target. */
function rawGet(url: string, path: string, headers: OutgoingHttpHeaders): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { path, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, location: res.headers.location });
    });
    req.on('error', reject).end();
  });
}

describe.each(EXPRESS_VERSIONS)('$name: bad input', ({ express }) => {
  let cluster: Cluster;
  let open: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      express,
      ids: ['node-a', 'node-b'],
      membership: MEMORY.cluster().create,
      options: { adminToken: ADMIN_TOKEN },
    });
    open = await startCluster({ express, ids: ['node-a', 'node-b'], membership: MEMORY.cluster().create });
  });
  afterAll(async () => {
    await cluster.stop();
    await open.stop();
  });

  it('answers a request without a key with 400 and the reason', async () => {
    const res = await fetch(`${cluster.nodes[0]!.url}/items?other=1`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ reason: 'missing-key', message: expect.stringContaining('query parameter "key"') });
  });

  it('answers an oversized key with 414, and the server keeps serving', async () => {
    const res = await fetch(`${cluster.nodes[0]!.url}/items?key=${'k'.repeat(600)}`);
    expect(res.status).toBe(414);
    expect(await res.json()).toMatchObject({ reason: 'key-too-long', maxKeyLength: 512 });
    const key = cluster.keyOwnedBy('node-a');
    expect((await fetch(`${cluster.nodes[0]!.url}/items?key=${key}`)).status).toBe(200);
  });

  it('builds Location from the owner configured URL whatever the Host and X-Forwarded-Host headers say', async () => {
    const key = cluster.keyOwnedBy('node-b');
    const { status, location } = await rawGet(cluster.node('node-a').url, `/items?key=${key}`, {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
    });
    expect(status).toBe(307);
    expect(location!.startsWith(`${cluster.node('node-b').url}/items?key=${key}&rr_hops=1`)).toBe(true);
  });

  it('keeps only the path and query of an absolute-form request target', async () => {
    const key = cluster.keyOwnedBy('node-b');
    const { status, location } = await rawGet(cluster.node('node-a').url, `http://evil.example/items?key=${key}`, {});
    expect(status).toBe(307);
    expect(location!.startsWith(`${cluster.node('node-b').url}/items?key=${key}&rr_hops=1`)).toBe(true);
  });

  it('refuses an admin route without a bearer token (401) or with a wrong one (401), and applies it with the token', async () => {
    const url = `${cluster.nodes[0]!.url}/api/routes/pins`;
    const body = JSON.stringify({ key: 'pinned-key', node: 'node-b' });
    const headers = { 'content-type': 'application/json' };
    const anonymous = await fetch(url, { method: 'POST', headers, body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer not-the-token-at-all' }, body });
    expect(wrong.status).toBe(401);
    expect(cluster.nodes[0]!.rr.ring!.pins['pinned-key']).toBeUndefined();

    const allowed = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` }, body });
    expect(allowed.status).toBe(200);
    expect(cluster.nodes[0]!.rr.ring!.owner('pinned-key')!.id).toBe('node-b');
  });

  it('guards the parameterised admin route too: DELETE /api/routes/nodes/:id', async () => {
    const url = `${cluster.nodes[0]!.url}/api/routes/nodes/no%20such%20node`;
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401);
    const res = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ reason: 'unknown-node', message: expect.stringContaining('"no such node"') });
  });

  it('answers a malformed admin body with 400', async () => {
    const res = await fetch(`${cluster.nodes[0]!.url}/api/routes/pins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: '{"key": ',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ reason: 'invalid-input' });
  });

  it('serves no admin route when no token is configured: the request goes on to the app', async () => {
    const res = await fetch(`${open.nodes[0]!.url}/api/routes/pins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer anything-at-all-here' },
      body: JSON.stringify({ key: 'x', node: 'node-b' }),
    });
    expect(await res.json()).toMatchObject({ reason: 'missing-key' }); // routed like any app request
    expect(open.nodes[0]!.rr.ring!.pins.x).toBeUndefined();
  });
});
