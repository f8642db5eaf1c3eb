import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRing, type NodeSpec, type Ring, type RingOptions } from '@ringroute/ring-core';
import { renderHaproxy, renderNginx } from '@ringroute/ring-core/edge';
import { freePort } from '../redis/harness.js';
import { keyRequest, testKeys } from './keys.js';
import { pipelined, startHaproxy, startNginx, type Proxy } from './proxies.js';

// The real proxies pick a backend for every key; the ring with the matching strategy must pick the same one,
// 100% of the time. Each backend answers with its port, so the body names the server the proxy chose.

const KEYS = testKeys(10_000);
const BACKENDS = 20;

interface Scenario {
  name: string;
  options: Omit<RingOptions, 'nodes'>;
  nodes: (ports: number[]) => NodeSpec[];
}

const node = (port: number, extra: Partial<NodeSpec> = {}): NodeSpec => ({ id: `n${port}`, url: `http://127.0.0.1:${port}`, ...extra });

async function agreement(front: number, path: string, ring: Ring, batch: number) {
  const bodies = await pipelined(
    front,
    KEYS.map((key) => keyRequest(path, 'x-key', key)),
    { batch },
  );
  const disagreements = KEYS.flatMap((key, i) => {
    const edge = bodies[i];
    const ours = ring.owner(key)?.id;
    return edge === ours ? [] : [{ key, edge, ours }];
  });
  return { total: KEYS.length, disagreements: disagreements.length, first: disagreements.slice(0, 3) };
}

describe('nginx hash $key consistent agrees with strategy nginx', () => {
  const scenarios: Scenario[] = [
    { name: 'equal3', options: {}, nodes: (p) => p.slice(0, 3).map((port) => node(port)) },
    { name: 'weights', options: {}, nodes: (p) => [1, 2, 3, 1, 5].map((weight, i) => node(p[i]!, { weight })) },
    { name: 'down', options: {}, nodes: (p) => p.slice(0, 3).map((port, i) => node(port, i === 1 ? { status: 'dead' } : {})) },
    {
      name: 'names',
      options: {},
      // Host names resolve at startup; the server string, not the address, is what nginx hashes.
      nodes: (p) => p.slice(0, 4).map((port, i) => node(port, i % 2 === 0 ? { server: `localhost:${port}` } : {})),
    },
    { name: 'twenty', options: {}, nodes: (p) => p.map((port) => node(port)) },
  ];
  let proxy: Proxy;
  let front: number;
  const rings = new Map<string, Ring>();

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: BACKENDS + 1 }, () => freePort()));
    front = ports.pop()!;
    let http = ports.map((port) => `  server { listen 127.0.0.1:${port}; location / { return 200 "n${port}"; } }\n`).join('');
    let locations = '';
    for (const s of scenarios) {
      const ring = await createRing({ ...s.options, strategy: 'nginx', nodes: s.nodes(ports) });
      rings.set(s.name, ring);
      http += renderNginx(ring, { name: s.name, key: 'header:x-key', directives: ['keepalive 16;'] });
      locations += `    location = /${s.name} { proxy_pass http://${s.name}; proxy_http_version 1.1; proxy_set_header Connection ""; }\n`;
    }
    http += `  server {\n    listen 127.0.0.1:${front};\n${locations}  }\n`;
    proxy = await startNginx(http, [front, ...ports]);
  });
  afterAll(() => proxy?.stop());

  for (const s of scenarios)
    it(`${s.name}: 10,000 keys (random, unicode, long), 100% agreement`, async () => {
      const result = await agreement(front, `/${s.name}`, rings.get(s.name)!, 200);
      expect(result).toEqual({ total: 10_000, disagreements: 0, first: [] });
    });

  it('a request without a key is not hashed: nginx falls back to round robin (the adapters answer 400)', async () => {
    const bodies = await pipelined(
      front,
      Array.from({ length: 12 }, () => Buffer.from('GET /equal3 HTTP/1.1\r\nhost: edge\r\nx-key: \r\n\r\n')),
      { connections: 1, batch: 1 },
    );
    expect(new Set(bodies).size).toBeGreaterThan(1);
  });
});

describe('HAProxy hash-type consistent agrees with strategy haproxy', () => {
  const ids = (p: number[], n: number) => p.slice(0, n).map((port, i) => node(port, { serverId: i + 1 }));
  const mixed = (p: number[]) => [1, 2, 3, 1, 5].map((weight, i) => node(p[i]!, { weight, serverId: 10 + 7 * i }));
  const scenarios: Scenario[] = [
    // A bare `hash-type consistent`: sdbm with avalanche.
    { name: 'equal3', options: {}, nodes: (p) => ids(p, 3) },
    { name: 'weights', options: {}, nodes: mixed },
    { name: 'down', options: {}, nodes: (p) => ids(p, 3).map((n, i) => (i === 1 ? { ...n, status: 'dead' } : n)) },
    { name: 'twenty', options: {}, nodes: (p) => ids(p, 20) },
    ...(['sdbm', 'djb2', 'wt6', 'crc32'] as const).flatMap((hash) =>
      [false, true].map((avalanche) => ({ name: `${hash}${avalanche ? '-avalanche' : ''}`, options: { hash, avalanche }, nodes: mixed })),
    ),
  ];
  let proxy: Proxy;
  let front: number;
  const rings = new Map<string, Ring>();

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: BACKENDS + 1 }, () => freePort()));
    front = ports.pop()!;
    let body = ports
      .map(
        (port) =>
          `frontend s${port}\n  bind 127.0.0.1:${port}\n  http-request return status 200 content-type text/plain string "n${port}"\n`,
      )
      .join('');
    let routes = '';
    for (const s of scenarios) {
      const ring = await createRing({ ...s.options, strategy: 'haproxy', nodes: s.nodes(ports) });
      rings.set(s.name, ring);
      body += renderHaproxy(ring, { name: s.name, key: 'header:x-key' });
      routes += `  use_backend ${s.name} if { path /${s.name} }\n`;
    }
    body += `frontend main\n  bind 127.0.0.1:${front}\n${routes}`;
    proxy = await startHaproxy(body, [front, ...ports]);
  });
  afterAll(() => proxy?.stop());

  for (const s of scenarios)
    it(`${s.name}: 10,000 keys (random, unicode, long), 100% agreement`, async () => {
      const result = await agreement(front, `/${s.name}`, rings.get(s.name)!, 16);
      expect(result).toEqual({ total: 10_000, disagreements: 0, first: [] });
    });

  it('a request without a key is not hashed: HAProxy falls back to round robin (the adapters answer 400)', async () => {
    const bodies = await pipelined(
      front,
      Array.from({ length: 12 }, () => Buffer.from('GET /equal3 HTTP/1.1\r\nhost: edge\r\n\r\n')),
      { connections: 1, batch: 1 },
    );
    expect(new Set(bodies).size).toBeGreaterThan(1);
  });
});
