import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryMembership, RingRouteConfigError, type Membership } from '@ringroute/ring-core';
import {
  createMonitoring,
  createRouter,
  type AttemptResult,
  type RequestView,
  type RingRouter,
  type RouterOptions,
} from '@ringroute/ring-core/http';

/** handle()'s answer spread into optional fields, for short assertions. */
const outcome = (router: RingRouter, req: RequestView) => {
  const result = router.handle(req);
  return {
    route: result.route,
    answer: result.kind === 'answer' ? result.answer : undefined,
    plan: result.kind === 'proxy' ? result.plan : undefined,
  };
};

const NODES = [
  { id: 'a', url: 'http://10.0.0.1:3000' },
  { id: 'b', url: 'http://10.0.0.2:3000/' },
  { id: 'c', url: 'http://10.0.0.3:3000' },
];

const started: Membership[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((m) => m.stop()));
});

/** Three members on one bus; returns a's membership once every ring has all three. */
async function cluster(): Promise<Membership[]> {
  const bus = new MemoryBus();
  const members = NODES.map((self) => new MemoryMembership({ bus, self }));
  started.push(...members);
  for (const m of members) await m.start();
  return members;
}

const request = (url: string, headers: RequestView['headers'] = {}, method = 'GET'): RequestView => {
  const parsed = new URL(url, 'http://x');
  return { method, url, headers, query: Object.fromEntries(parsed.searchParams), params: {} };
};

/** A key owned by `id` (and one owned by something else) under the shared ring. */
function keyOwnedBy(membership: Membership, id: string): string {
  for (let i = 0; ; i++) if (membership.ring.owner(`k${i}`)?.id === id) return `k${i}`;
}

describe('option validation', () => {
  const base = { membership: new MemoryMembership({ self: NODES[0] }), key: 'query:key' } as RouterOptions;
  const cases: [string, Partial<RouterOptions>][] = [
    ['key (source)', { key: 'body:x' as never }],
    ['misroute', { misroute: 'bounce' as never }],
    ['redirectStatus', { redirectStatus: 302 as never }],
    ['maxHops', { maxHops: 0 }],
    ['maxKeyLength', { maxKeyLength: 1.5 }],
    ['prefix', { prefix: 'ringroute' }],
    ['adminToken', { adminToken: 'short' }],
    ['onProxyError', { onProxyError: 'x' as never }],
    ['enforceRouting', { enforceRouting: 'yes' as never }],
  ];
  it.each(cases)('rejects a bad %s with an error naming it', (option, patch) => {
    expect(() => createRouter({ ...base, ...patch })).toThrow(RingRouteConfigError);
    try {
      createRouter({ ...base, ...patch });
    } catch (error) {
      expect((error as RingRouteConfigError).option).toBe(option);
    }
  });
  it('requires exactly one of membership and nodes, and a self id', () => {
    expect(() => createRouter({ key: 'query:key', self: 'a' } as RouterOptions)).toThrow(/^membership:/);
    expect(() => createRouter({ ...base, nodes: NODES })).toThrow(/^membership:/);
    expect(() => createRouter({ membership: new MemoryMembership(), key: 'query:key' })).toThrow(/^self:/);
  });
  it('builds a StaticMembership from nodes, owns it and leaves on close', async () => {
    const router = createRouter({ nodes: NODES, self: 'b', key: 'query:key', leaveOnClose: false });
    expect(router.ownsMembership).toBe(true);
    expect(router.ready).toBe(false);
    await router.start();
    expect(router.ring?.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    await router.close();
    expect(router.ready).toBe(false);
    expect(() => createRouter({ nodes: NODES, key: 'query:key' })).toThrow(/^self:/);
    expect(() => createRouter({ ...base, healthCheck: {} })).toThrow(/^healthCheck:/);
  });
  it('takes self from the membership', () => {
    expect(createRouter(base).options.self).toBe('a');
  });
  it.each([
    ['healthCheck.backoff', { nodes: NODES, self: 'a', healthCheck: { backoff: 2 } }, 'backoffMultiplier'],
    ['healthCheck.intervall', { nodes: NODES, self: 'a', healthCheck: { intervall: 100 } }, 'interval'],
    ['ejection.failure', { ...base, misroute: 'proxy', ejection: { failure: 2 } }, 'failures'],
    ['proxyTimeouts.connnect', { ...base, proxyTimeouts: { connnect: 100 } }, 'connect'],
    ['nodes[1].wieght', { nodes: [NODES[0], { ...NODES[1], wieght: 2 }], self: 'a' }, 'weight'],
  ] as const)('refuses the unknown nested option %s, suggesting the closest known name', (option, options, suggestion) => {
    const attempt = () => createRouter({ key: 'query:key', ...options } as unknown as RouterOptions);
    expect(attempt).toThrow(RingRouteConfigError);
    expect(attempt).toThrow(`${option}: unknown option (did you mean \`${suggestion}\`?)`);
  });
});

describe('key extraction', () => {
  it('reads query, params, header and cookie shorthands and functions', async () => {
    const [a] = await cluster();
    const view = {
      method: 'GET',
      url: '/x?key=q1&key=q2',
      query: { key: ['q1', 'q2'] },
      params: { id: 'p1' },
      headers: { 'x-session-id': 'h1', cookie: 'theme=dark; sid=c%201' },
    };
    const keyOf = (key: RouterOptions['key']) => createRouter({ membership: a!, key }).handle(view).route?.key;
    expect(keyOf('query:key')).toBe('q1');
    expect(keyOf('params:id')).toBe('p1');
    expect(keyOf('header:X-Session-Id')).toBe('h1');
    expect(keyOf('cookie:sid')).toBe('c 1');
    expect(keyOf((r: RequestView) => `fn-${r.method}`)).toBe('fn-GET');
  });
  it('prefers parsed cookies when the framework provides them', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'cookie:sid' });
    expect(outcome(router, { method: 'GET', url: '/', headers: { cookie: 'sid=raw' }, cookies: { sid: 'parsed' } }).route?.key).toBe(
      'parsed',
    );
  });
});

describe('routing answers', () => {
  it('serves an owned key locally and reports owner and epoch', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key' });
    const key = keyOwnedBy(a!, 'a');
    const { route, answer } = outcome(router, request(`/doc?key=${key}`));
    expect(answer).toBeUndefined();
    expect(route).toMatchObject({ key, owner: { id: 'a' }, epoch: a!.ring.epoch, decision: { action: 'local', reason: 'owner' } });
    expect(router.counters.local).toBe(1);
  });

  it('redirects to the owner URL with path, query and hop parameters, ignoring Host', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key' });
    const key = keyOwnedBy(a!, 'b');
    const { answer } = outcome(router, request(`/doc/1?key=${key}&x=%20y&rr_hops=1`, { host: 'evil.example' }));
    expect(answer?.status).toBe(307);
    expect(answer?.headers.location).toBe(`http://10.0.0.2:3000/doc/1?key=${key}&x=%20y&rr_hops=2&rr_epoch=${a!.ring.epoch}`);
    expect(JSON.parse(answer!.body)).toMatchObject({ owner: 'b' });
  });

  it('drops the redirect parameters from the query before keying', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: (r: RequestView) => JSON.stringify(r.query) });
    const req = request('/doc?id=1&rr_hops=1&rr_epoch=4');
    expect(outcome(router, req).route?.key).toBe('{"id":"1"}');
  });

  it('keeps only the path of an absolute-form request target', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', redirectStatus: 308 });
    const key = keyOwnedBy(a!, 'c');
    const { answer } = outcome(router, request(`http://evil.example/p?key=${key}`));
    expect(answer?.status).toBe(308);
    expect(answer?.headers.location).toBe(`http://10.0.0.3:3000/p?key=${key}&rr_hops=1&rr_epoch=${a!.ring.epoch}`);
  });

  it('refuses with 421 naming the owner', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', misroute: 'refuse' });
    const { answer } = outcome(router, request(`/?key=${keyOwnedBy(a!, 'b')}`));
    expect(answer?.status).toBe(421);
    expect(JSON.parse(answer!.body)).toMatchObject({ reason: 'not-owner', owner: { id: 'b', url: NODES[1]!.url } });
    expect(router.counters.refuse).toBe(1);
  });

  it('answers 508 once maxHops hops were made (header or redirect parameter)', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', maxHops: 2 });
    const key = keyOwnedBy(a!, 'b');
    expect(outcome(router, request(`/?key=${key}&rr_hops=2`)).answer?.status).toBe(508);
    expect(outcome(router, request(`/?key=${key}`, { 'x-ringroute-hops': '2' })).answer?.status).toBe(508);
    expect(outcome(router, request(`/?key=${key}`, { 'x-ringroute-hops': '1' })).answer?.status).toBe(307);
    expect(router.counters.errorsByReason['max-hops']).toBe(2);
  });

  it('answers 400 for a missing key and 414 for an oversized one', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', maxKeyLength: 8 });
    const missing = outcome(router, request('/'));
    expect(missing.answer?.status).toBe(400);
    expect(JSON.parse(missing.answer!.body)).toMatchObject({
      reason: 'missing-key',
      message: expect.stringContaining('query parameter "key"'),
    });
    expect(outcome(router, request('/?key=123456789')).answer?.status).toBe(414);
    expect(router.counters.errors).toBe(2);
  });

  it('answers 503 + Retry-After before the first ring', () => {
    const router = createRouter({ membership: new MemoryMembership({ self: NODES[0] }), key: 'query:key', retryAfter: 2 });
    const { answer } = outcome(router, request('/?key=x'));
    expect(answer?.status).toBe(503);
    expect(answer?.headers['retry-after']).toBe('2');
  });

  it('serves locally when the proxying node reports the owner unreachable and this node is next', async () => {
    const members = await cluster();
    const key = keyOwnedBy(members[0]!, 'a');
    const next = [...members[0]!.ring.candidates(key)][1]!.id;
    const router = createRouter({ membership: members[NODES.findIndex((n) => n.id === next)]!, key: 'query:key', misroute: 'proxy' });
    const { route, answer } = outcome(router, request(`/?key=${key}`, { 'x-ringroute-unreachable': 'a', 'x-ringroute-hops': '1' }));
    expect(answer).toBeUndefined();
    expect(route?.decision).toMatchObject({ action: 'local', reason: 'fallback' });
    expect(outcome(router, request(`/?key=${key}`)).route?.decision.action).toBe('proxy');
  });

  it('proxies to the owner, then next candidates only for retry-safe requests', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', misroute: 'proxy', ejection: false });
    const key = keyOwnedBy(a!, 'b');
    const get = { ...request(`/p?key=${key}&rr_hops=1`, { host: 'h', 'x-forwarded-for': '1.2.3.4' }), socket: { remoteAddress: '::1' } };
    const { plan } = outcome(router, get);
    expect(plan?.path).toBe(`/p?key=${key}`);
    const calls: [string, Record<string, string>][] = [];
    const refused = async (url: string, headers: Record<string, string>): Promise<AttemptResult> => {
      calls.push([url, headers]);
      return { sent: false, error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) };
    };
    expect((await router.proxyWithFallback(plan!, refused))?.answer.status).toBe(503);
    const candidates = [...a!.ring.candidates(key)].filter((n) => n.url !== undefined);
    expect(calls.map(([url]) => url)).toEqual(candidates.map((n) => `${n.url!.replace(/\/$/, '')}/p?key=${key}`));
    expect(calls[0]![0]).toBe(`http://10.0.0.2:3000/p?key=${key}`);
    expect(calls[0]![1]).not.toHaveProperty('x-ringroute-unreachable');
    expect(calls[1]![1]).toMatchObject({
      'x-ringroute-hops': '2',
      'x-ringroute-unreachable': 'b',
      'x-forwarded-for': '1.2.3.4, ::1',
      'x-forwarded-host': 'h',
    });
    const post = request(`/p?key=${key}`, { 'content-length': '3' }, 'POST');
    calls.length = 0;
    await router.proxyWithFallback(outcome(router, post).plan!, refused);
    expect(calls.map(([url]) => url)).toEqual([`http://10.0.0.2:3000/p?key=${key}`]);
  });

  it('shapes proxy failures with onProxyError, else 503 + Retry-After', async () => {
    const [a] = await cluster();
    const key = keyOwnedBy(a!, 'b');
    const down = async (): Promise<AttemptResult> => ({ sent: false, error: new Error('down') });
    const plain = createRouter({ membership: a!, key: 'query:key', misroute: 'proxy' });
    const req = request(`/?key=${key}`);
    const failed = await plain.proxyWithFallback(outcome(plain, req).plan!, down);
    expect(failed?.answer.status).toBe(503);
    expect(failed?.answer.headers['retry-after']).toBe('1');
    const shaped = createRouter({
      membership: a!,
      key: 'query:key',
      misroute: 'proxy',
      onProxyError: (info) => ({ status: 502, body: `no ${info.owner?.id}` }),
    });
    expect((await shaped.proxyWithFallback(outcome(shaped, req).plan!, down))?.answer).toMatchObject({ status: 502, body: 'no b' });
  });

  it('emits a typed decision event per request', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key' });
    const events: unknown[] = [];
    router.on('decision', (e) => events.push(e));
    outcome(router, request(`/?key=${keyOwnedBy(a!, 'b')}`));
    outcome(router, request('/'));
    expect(events).toMatchObject([
      { action: 'redirect', reason: 'not-owner', status: 307, owner: 'b' },
      { action: 'error', reason: 'missing-key', status: 400 },
    ]);
  });
});

describe('monitoring and admin routes', () => {
  const TOKEN = 'secret-token-0123456789';
  const call = async (
    router: RingRouter,
    method: string,
    path: string,
    input: Partial<{ query: unknown; params: unknown; body: unknown; headers: RequestView['headers'] }> = {},
  ) => {
    const r = createMonitoring(router).routes.find((m) => m.method === method && m.path === path);
    if (!r) throw new Error(`no route ${method} ${path}`);
    return r.handle({ query: {}, params: {}, body: undefined, headers: {}, ...input });
  };

  it('describes a key, stats, health, readiness and metrics under the prefix', async () => {
    const [a] = await cluster();
    const router = createRouter({ membership: a!, key: 'query:key', prefix: '/rr' });
    const key = keyOwnedBy(a!, 'c');
    const route = JSON.parse((await call(router, 'GET', '/rr/route', { query: { key } })).body);
    expect(route).toMatchObject({ key, owner: { id: 'c' }, epoch: a!.ring.epoch, local: false });
    expect(route.candidates.map((n: { id: string }) => n.id).sort()).toEqual(['a', 'b', 'c']);
    expect((await call(router, 'GET', '/rr/route')).status).toBe(400);
    outcome(router, request(`/?key=${key}`));
    const stats = JSON.parse((await call(router, 'GET', '/rr/api/routes/stats')).body);
    expect(stats.counters).toMatchObject({ local: 0, redirect: 1, proxy: 0, refuse: 0, errors: 0 });
    expect(stats.nodes.map((n: { share: number }) => n.share).reduce((x: number, y: number) => x + y)).toBeCloseTo(1);
    expect((await call(router, 'GET', '/rr/health')).status).toBe(200);
    expect((await call(router, 'GET', '/rr/ready')).status).toBe(200);
    const metrics = await call(router, 'GET', '/rr/metrics');
    expect(metrics.headers['content-type']).toContain('text/plain; version=0.0.4');
    expect(metrics.body).toContain('# TYPE ringroute_decisions_total counter\n');
    expect(metrics.body).toContain('ringroute_decisions_total{node="a",action="redirect"} 1\n');
    expect(metrics.body).toContain('ringroute_ready{node="a"} 1\n');
  });

  it('reports not ready (503) before the first ring', async () => {
    const router = createRouter({ membership: new MemoryMembership({ self: NODES[0] }), key: 'query:key' });
    expect((await call(router, 'GET', '/ready')).status).toBe(503);
  });

  it('has no admin routes without a token; with one, requires it', async () => {
    const [a] = await cluster();
    expect(createMonitoring(createRouter({ membership: a!, key: 'query:key' })).routes.some((r) => r.admin)).toBe(false);
    const router = createRouter({ membership: a!, key: 'query:key', adminToken: TOKEN });
    const body = { id: 'd', url: 'http://10.0.0.4:3000' };
    expect((await call(router, 'POST', '/api/routes/nodes', { body })).status).toBe(401);
    expect((await call(router, 'POST', '/api/routes/nodes', { body, headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const added = await call(router, 'POST', '/api/routes/nodes', { body, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(added.status).toBe(201);
    expect(a!.ring.node('d')).toBeDefined();
    const auth = { authorization: `bearer ${TOKEN}` };
    expect((await call(router, 'POST', '/api/routes/pins', { body: { key: 'pinned', node: 'd' }, headers: auth })).status).toBe(200);
    expect(a!.ring.owner('pinned')?.id).toBe('d');
    expect((await call(router, 'POST', '/api/routes/nodes', { body: { id: 'e', weight: -1 }, headers: auth })).status).toBe(400);
    expect((await call(router, 'DELETE', '/api/routes/nodes/:id', { params: { id: 'zz' }, headers: auth })).status).toBe(404);
    expect((await call(router, 'DELETE', '/api/routes/nodes/:id', { params: { id: 'd' }, headers: auth })).status).toBe(200);
    expect(a!.ring.node('d')).toBeUndefined();
  });
});
