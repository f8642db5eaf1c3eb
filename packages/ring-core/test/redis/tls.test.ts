import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildMember, converged } from '../fixtures/child-member.js';
import { freePort, requireRedis, SpawnedRedis, type RedisTls } from './server.js';

const run = promisify(execFile);

/**
 * A CA and a certificate for 127.0.0.1 signed by it (openssl; fails loudly without it). Clients verify the server
 * against the CA like any other: nothing in these tests turns verification off.
 */
async function certificates(dir: string): Promise<RedisTls> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    run('openssl', args).catch((error: Error) => {
      throw new Error(`this test needs openssl (Debian package openssl): ${error.message}`);
    });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=RingRoute test CA');
  await openssl('req', ...ec, '-keyout', file('redis.key'), '-out', file('redis.csr'), '-subj', '/CN=127.0.0.1');
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await openssl(
    'x509',
    '-req',
    '-in',
    file('redis.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('redis.pem'),
    '-days',
    '1',
    '-extfile',
    file('san.ext'),
  );
  return { cert: file('redis.pem'), key: file('redis.key'), ca: file('ca.pem') };
}

const timing = { syncInterval: 100, failureTimeout: 400 };

/** The first error a client connecting to `url` reports (ioredis's connect() only says the connection closed). */
async function connectionError(url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  const error = new Promise<string>((resolve) => client.once('error', (e: Error) => resolve(e.message)));
  await client.connect().catch(() => {});
  client.disconnect();
  return error;
}

describe('RedisMembership over rediss:// (a TLS-only redis-server, certificate verified)', () => {
  let dir: string;
  let tls: RedisTls;
  let server: SpawnedRedis;
  const members: ChildMember[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringroute-tls-'));
    tls = await certificates(dir);
    server = new SpawnedRedis(await freePort(), tls);
    await server.start();
  });

  afterAll(async () => {
    await Promise.all(members.map((m) => m.kill()));
    await server?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the port speaks TLS only, and a client that does not trust the CA is refused', async () => {
    expect(server.url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    await expect(requireRedis(server.url.replace('rediss:', 'redis:'))).rejects.toThrow(/these tests need a Redis/);
    expect(await connectionError(server.url)).toMatch(/certificate/); // no CA given: Node's own trust store
  });

  it('members given only the rediss:// URL (the CA trusted through NODE_EXTRA_CA_CERTS) join, agree and detect a kill -9', async () => {
    const options = { redis: server.url, cluster: 'tls', secret: 'tls-secret', ...timing };
    const env = { NODE_EXTRA_CA_CERTS: tls.ca };
    const group = ['t1', 't2', 't3'].map((id) => new ChildMember(id, options, env));
    members.push(...group);
    const rings = await converged(group, (ring) => ring.nodes?.length === 3);
    expect(new Set(rings.map((r) => r.checksum)).size).toBe(1);

    // The snapshot is in this TLS Redis (read with the CA given to ioredis directly).
    const client = await requireRedis(server.url, { tls: { ca: await readFile(tls.ca) } });
    try {
      expect(await client.hexists('ringroute:tls', 'state')).toBe(1);
    } finally {
      client.disconnect();
    }

    await group[2]!.kill();
    const after = await converged(group.slice(0, 2), (ring) => ring.nodes?.length === 2);
    expect(after[0]!.nodes).toEqual(['t1:alive', 't2:alive']);
    // Removed as failed by whichever survivor's detector committed it (the other may learn it through a resync).
    const reasons = group.slice(0, 2).map((m) => m.events.find((e) => e.event === 'left' && e.node === 't3')?.reason);
    expect(reasons).toContain('failed');
  });
});
