import { describe, expect, it } from 'vitest';
import { createRing, murmur3, ringFromJSON, RingRouteConfigError, type NodeSpec, type RingOptions } from '@ringroute/ring-core';
import { edgeKey, renderHaproxy, renderNginx } from '@ringroute/ring-core/edge';

// Frozen key -> owner mappings of the edge strategies (checked against the real binaries in agreement.test.ts):
// a change here moves keys away from what nginx and HAProxy pick.

const SAMPLE = ['', 'a', 'user:42', 'doc/2024/ünïcödé', '日本語のキー', '🔑 emoji', 'x'.repeat(300), 'K'];
const MANY = Array.from({ length: 2000 }, (_, i) => `k${i}`);

const NGINX_NODES: NodeSpec[] = [
  { id: 'a', url: 'http://10.0.0.1:8080' },
  { id: 'b', url: 'http://10.0.0.2:8080', weight: 2 },
  { id: 'c', server: 'backend.internal' }, // no port: nginx hashes "backend.internal\0"
  { id: 'd', server: 'unix:/run/app.sock' },
  { id: 'e', server: '[::1]:9000', weight: 3 },
];
const HAPROXY_NODES: NodeSpec[] = [
  { id: 'a', url: 'http://10.0.0.1:8080', serverId: 1 },
  { id: 'b', url: 'http://10.0.0.2:8080', serverId: 2, weight: 2 },
  { id: 'c', url: 'http://10.0.0.3:8080', serverId: 7 },
  { id: 'd', url: 'http://10.0.0.4:8080', serverId: 100, weight: 5 },
];

const GOLDEN: [string, RingOptions, string[], number, string][] = [
  ['nginx', { nodes: NGINX_NODES, strategy: 'nginx' }, ['e', 'a', 'd', 'b', 'a', 'b', 'a', 'e'], 388384500, 'c829ee0a56878c2e'],
  [
    'haproxy (bare: sdbm + avalanche)',
    { nodes: HAPROXY_NODES, strategy: 'haproxy' },
    ['d', 'b', 'd', 'c', 'c', 'd', 'd', 'b'],
    3060209236,
    '2232545eee663592',
  ],
  [
    'haproxy djb2',
    { nodes: HAPROXY_NODES, strategy: 'haproxy', hash: 'djb2' },
    ['d', 'd', 'c', 'b', 'd', 'a', 'c', 'd'],
    315452483,
    '35edc98e05ed5008',
  ],
  [
    'haproxy wt6 + avalanche',
    { nodes: HAPROXY_NODES, strategy: 'haproxy', hash: 'wt6', avalanche: true },
    ['d', 'd', 'c', 'd', 'b', 'd', 'd', 'd'],
    2907945284,
    'b2427df610ef6798',
  ],
  [
    'haproxy crc32',
    { nodes: HAPROXY_NODES, strategy: 'haproxy', hash: 'crc32' },
    ['d', 'd', 'd', 'b', 'd', 'd', 'd', 'b'],
    3366195960,
    '1f55f87a55c8926b',
  ],
];

describe('edge strategy golden vectors', () => {
  for (const [name, options, owners, digest, checksum] of GOLDEN)
    it(`${name}: key -> owner and checksum are frozen`, async () => {
      const ring = await createRing(options);
      expect(SAMPLE.map((key) => ring.owner(key)!.id)).toEqual(owners);
      expect(murmur3(MANY.map((key) => ring.owner(key)!.id).join(','))).toBe(digest);
      expect(ring.checksum).toBe(checksum);
    });
});

describe('edge strategies: membership and health', () => {
  it("a dead server's keys go to the next server of their fallback chain; no other key moves", async () => {
    for (const [strategy, nodes] of [
      ['nginx', NGINX_NODES],
      ['haproxy', HAPROXY_NODES],
    ] as const) {
      const ring = await createRing({ nodes, strategy });
      const down = ring.with({ update: [{ id: 'b', status: 'dead' }] });
      for (const key of MANY) {
        const before = ring.owner(key)!.id;
        const after = down.owner(key)!.id;
        if (before !== 'b') expect(after).toBe(before);
        else expect(after).toBe(ring.owners(key, 2)[1]!.id); // the next in the fallback chain
      }
    }
  });

  it('haproxy ranges partition the keyspace and match owner() at their ends', async () => {
    const ring = await createRing({ nodes: HAPROXY_NODES, strategy: 'haproxy' });
    let total = 0;
    for (const node of ring.nodes)
      for (const { start, end } of ring.ranges(node.id)) {
        total += ((end - start) >>> 0) + 1;
        for (const position of [start, end]) {
          const owner = ring.nodes.find((n) =>
            ring
              .ranges(n.id)
              .some((r) => (r.start <= r.end ? position >= r.start && position <= r.end : position >= r.start || position <= r.end)),
          );
          expect(owner?.id).toBe(node.id);
        }
      }
    expect(total).toBe(2 ** 32);
  });

  it('survives toJSON / ringFromJSON with server, serverId and avalanche', async () => {
    const ring = await createRing({ nodes: HAPROXY_NODES, strategy: 'haproxy', hash: 'wt6', avalanche: true });
    const copy = await ringFromJSON(JSON.parse(JSON.stringify(ring.toJSON())));
    expect(copy.checksum).toBe(ring.checksum);
    expect(copy.avalanche).toBe(true);
    expect(MANY.map((key) => copy.owner(key)!.id)).toEqual(MANY.map((key) => ring.owner(key)!.id));
    const nginx = await createRing({ nodes: NGINX_NODES, strategy: 'nginx' });
    expect((await ringFromJSON(nginx.toJSON())).checksum).toBe(nginx.checksum);
  });
});

describe('edge strategies: invalid options fail at construction, naming the option', () => {
  const cases: [string, RingOptions, string][] = [
    ['nginx without server or url', { strategy: 'nginx', nodes: [{ id: 'a' }] }, 'nodes[id="a"].server'],
    ['nginx fractional weight', { strategy: 'nginx', nodes: [{ id: 'a', url: 'http://h:1', weight: 1.5 }] }, 'nodes[id="a"].weight'],
    ['nginx with another hash', { strategy: 'nginx', hash: 'xxh32', nodes: NGINX_NODES }, 'hash'],
    ['nginx with avalanche', { strategy: 'nginx', avalanche: true, nodes: NGINX_NODES }, 'avalanche'],
    ['haproxy without serverId', { strategy: 'haproxy', nodes: [{ id: 'a' }] }, 'nodes[id="a"].serverId'],
    [
      'haproxy duplicate serverId',
      {
        strategy: 'haproxy',
        nodes: [
          { id: 'a', serverId: 1 },
          { id: 'b', serverId: 1 },
        ],
      },
      'nodes[id="b"].serverId',
    ],
    ['haproxy weight above 256', { strategy: 'haproxy', nodes: [{ id: 'a', serverId: 1, weight: 300 }] }, 'nodes[id="a"].weight'],
    ['haproxy with xxh32', { strategy: 'haproxy', hash: 'xxh32', nodes: HAPROXY_NODES }, 'hash'],
    ['haproxy with a custom hash', { strategy: 'haproxy', hash: () => 1, nodes: HAPROXY_NODES }, 'hash'],
    ['serverId not an integer', { strategy: 'haproxy', nodes: [{ id: 'a', serverId: 1.5 }] }, 'nodes[0].serverId'],
    ['server with a space', { strategy: 'nginx', nodes: [{ id: 'a', server: 'a b:1' }] }, 'nodes[0].server'],
    ['avalanche not a boolean', { strategy: 'haproxy', avalanche: 'yes' as unknown as boolean, nodes: HAPROXY_NODES }, 'avalanche'],
  ];
  for (const [name, options, option] of cases)
    it(name, async () => {
      const error = await createRing(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RingRouteConfigError);
      expect((error as RingRouteConfigError).option).toBe(option);
    });
});

describe('edge config rendering', () => {
  it("maps the adapters' key syntax to each proxy", () => {
    expect(edgeKey('nginx', 'query:doc')).toBe('$arg_doc');
    expect(edgeKey('nginx', 'header:X-Session-Id')).toBe('$http_x_session_id');
    expect(edgeKey('nginx', 'cookie:sid')).toBe('$cookie_sid');
    expect(edgeKey('haproxy', 'query:doc')).toBe('url_param(doc),url_dec(1)');
    expect(edgeKey('haproxy', 'header:X-Key')).toBe('req.fhdr(x-key)');
    expect(edgeKey('haproxy', 'cookie:sid')).toBe('req.cook(sid),url_dec');
    expect(() => edgeKey('nginx', 'params:id')).toThrow(/key: must be "query:<name>"/);
    expect(() => edgeKey('haproxy', 'query:a b')).toThrow(/key: "a b" is not a name/);
  });

  it('writes an nginx upstream: members in id order, down for dead ones, weight-0 ones left out', async () => {
    const ring = await createRing({
      strategy: 'nginx',
      nodes: [
        { id: 'b', url: 'http://10.0.0.2:80', weight: 2 },
        { id: 'a', url: 'http://10.0.0.1:8080' },
        { id: 'c', server: 'app.local:81', status: 'dead' },
        { id: 'd', url: 'http://10.0.0.4:80', weight: 0 },
      ],
    });
    expect(renderNginx(ring, { name: 'docs', key: 'query:doc', directives: ['keepalive 16;'] })).toBe(
      `# generated by ringroute from epoch 0 (checksum ${ring.checksum}); do not edit
upstream docs {
    hash $arg_doc consistent;
    server 10.0.0.1:8080; # a
    server 10.0.0.2:80 weight=2; # b
    server app.local:81 down; # c
    keepalive 16;
}
`,
    );
  });

  it("writes a HAProxy backend: ids, weights, the ring's hash and avalanche, disabled for dead ones", async () => {
    const ring = await createRing({
      strategy: 'haproxy',
      nodes: [
        { id: 'a', url: 'http://10.0.0.1:8080', serverId: 3 },
        { id: 'b', url: 'https://b.example', serverId: 4, weight: 2, status: 'leaving' },
      ],
    });
    expect(renderHaproxy(ring, { key: 'header:x-key' })).toBe(
      `# generated by ringroute from epoch 0 (checksum ${ring.checksum}); do not edit
backend ringroute
    balance hash req.fhdr(x-key)
    hash-type consistent sdbm avalanche
    server a 10.0.0.1:8080 id 3 weight 1
    server b b.example:443 id 4 weight 2 disabled
`,
    );
  });

  it('refuses a ring of another strategy and bad names', async () => {
    const ring = await createRing({ nodes: HAPROXY_NODES });
    expect(() => renderNginx(ring, { key: 'query:doc' })).toThrow(/ring: a nginx config needs a ring with strategy 'nginx'/);
    const haproxy = await createRing({ nodes: HAPROXY_NODES, strategy: 'haproxy' });
    expect(() => renderHaproxy(haproxy, { key: 'query:doc', name: 'a b' })).toThrow(/name: must be/);
    expect(() => renderHaproxy(haproxy, { key: 'query:doc', directives: ['x\ny'] })).toThrow(/directives\[0\]: must be one line/);
  });
});
