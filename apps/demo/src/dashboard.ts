import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { analyzeDistribution, isRoutable, measureMovement, type Ring, type RingNode } from '@ringroute/ring-core';
import type { HandoffProgress } from '@ringroute/ring-core/owned';
import type { DemoCluster } from './cluster.js';
import { probe, keyPath } from './probe.js';
import { TrafficGenerator } from './traffic.js';

const PUBLIC = new URL('../public/', import.meta.url);
const FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
const PALETTE = ['#7aa2ff', '#ff9e64', '#3ddc97', '#f7768e', '#bb9af7', '#e0c46c', '#2ac3de', '#ff7ad9'];

/** Keys the dashboard follows across ring changes. */
export const TRACKED_KEYS = [
  'cart:alice',
  'cart:bob',
  'session_882',
  'user:42',
  'doc-7',
  'order-1001',
  'tenant/acme',
  'img_5f3a',
  'chat-room-9',
  'invoice-77',
];

/** A fixed key sample: the share of the keyspace each node serves, and how many keys a change moved. */
const SAMPLE = Array.from({ length: 8192 }, (_, i) => `sample-${i}`);

interface Counters {
  served: number;
  redirected: number;
  proxied: number;
  refused: number;
  /** Requests the node answered with an error (no ring, no owner, proxy failed, loop stopped, bad key). */
  errors: number;
}

/** Where a tracked key's state is: the node holding it, whether it is on the move, and its hit count. */
interface KeyState {
  holder: string | undefined;
  moving: boolean;
  hits: number | undefined;
}

interface LogEntry {
  at: number;
  epoch: number;
  text: string;
}

function describeChange(previous: Ring, next: Ring): string {
  const parts: string[] = [];
  for (const node of next.nodes) {
    const before = previous.node(node.id);
    if (!before) parts.push(`${node.id} joined`);
    else if (before.weight !== node.weight) parts.push(node.weight === 0 ? `${node.id} drained` : `${node.id} weight ${node.weight}`);
    else if (before.status !== node.status) parts.push(`${node.id} ${node.status}`);
  }
  for (const node of previous.nodes) if (!next.node(node.id)) parts.push(`${node.id} left`);
  const { fraction } = measureMovement(previous, next, SAMPLE);
  return `${parts.join(', ') || 'ring updated'}: ${(fraction * 100).toFixed(1)}% of keys moved`;
}

/** What the node card shows of owned state: keys handed over, taken over, waiting to move, held. */
function handoffView(progress: HandoffProgress | undefined) {
  if (!progress) return { done: 0, received: 0, pending: 0, held: 0 };
  return { done: progress.done, received: progress.received, pending: progress.pending + progress.moving, held: progress.held.hits ?? 0 };
}

export interface DashboardOptions {
  cluster: DemoCluster;
  host: string;
  port: number;
  /** Start the traffic generator with the dashboard. Default true. */
  traffic?: boolean;
}

/**
 * The dashboard server: static page + JSON API + a Server-Sent Events stream of the cluster's state. It reads the
 * ring from the cluster's observer membership and the counters from each node's own /api/routes/stats.
 */
export class Dashboard {
  readonly app: FastifyInstance;
  readonly traffic: TrafficGenerator;
  private readonly cluster: DemoCluster;
  private readonly colors = new Map<string, string>();
  private readonly streams = new Set<ServerResponse>();
  private readonly counters = new Map<string, Counters>();
  private readonly rates = new Map<string, number>();
  private readonly movedFrom = new Map<string, string | undefined>();
  private readonly keyStates = new Map<string, KeyState>();
  private readonly log: LogEntry[] = [];
  private shareCache: { ring: Ring; shares: Map<string, number> } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly onRing = (ring: Ring, previous: Ring | undefined) => {
    if (!previous) return;
    for (const key of TRACKED_KEYS) {
      const before = previous.owner(key)?.id;
      const after = ring.owner(key)?.id;
      if (before !== after) this.movedFrom.set(key, before);
    }
    this.log.push({ at: Date.now(), epoch: ring.epoch, text: describeChange(previous, ring) });
    if (this.log.length > 50) this.log.shift();
    this.push();
  };

  constructor(private readonly options: DashboardOptions) {
    this.cluster = options.cluster;
    this.traffic = new TrafficGenerator(() => [...this.cluster.nodes.values()]);
    this.app = Fastify();
    this.routes();
  }

  get url(): string {
    const address = this.app.server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    return `http://${this.options.host}:${port}`;
  }

  async start(): Promise<void> {
    this.cluster.observer.on('ring', this.onRing);
    this.log.push({ at: Date.now(), epoch: this.cluster.observer.ring.epoch, text: `${this.cluster.nodes.size} nodes up` });
    await this.app.listen({ host: this.options.host, port: this.options.port });
    if (this.options.traffic !== false) this.traffic.start();
    this.timer = setInterval(() => void this.poll(), 1000);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.traffic.stop();
    this.cluster.observer.off('ring', this.onRing);
    for (const stream of this.streams) stream.end();
    await this.app.close();
  }

  private colorOf(id: string): string {
    let color = this.colors.get(id);
    if (!color) this.colors.set(id, (color = PALETTE[this.colors.size % PALETTE.length]!));
    return color;
  }

  private sharesOf(ring: Ring): Map<string, number> {
    if (this.shareCache?.ring !== ring) {
      // Effective shares: a dead node's keys count for whoever serves them now.
      const { nodes } = analyzeDistribution(ring, SAMPLE);
      this.shareCache = { ring, shares: new Map(nodes.map((n) => [n.id, n.share])) };
    }
    return this.shareCache.shares;
  }

  state() {
    const ring = this.cluster.observer.ring;
    const share = this.sharesOf(ring);
    const view = (node: RingNode) => ({
      id: node.id,
      url: node.url ?? '',
      weight: node.weight,
      status: node.status,
      routable: isRoutable(node),
      color: this.colorOf(node.id),
      share: share.get(node.id) ?? 0,
      ranges: ring.ranges(node.id).map((r) => [r.start, r.end]),
      running: !this.cluster.killed.has(node.id),
      counters: this.counters.get(node.id) ?? { served: 0, redirected: 0, proxied: 0, refused: 0, errors: 0 },
      rate: this.rates.get(node.id) ?? 0,
      handoff: handoffView(this.cluster.nodes.get(node.id)?.handoff()),
    });
    return {
      epoch: ring.epoch,
      checksum: ring.checksum,
      membership: this.cluster.membershipKind,
      policy: this.cluster.policy,
      nodes: ring.nodes.map(view),
      keys: TRACKED_KEYS.map((key) => ({
        key,
        position: ring.position(key),
        owner: ring.owner(key)?.id,
        movedFrom: this.movedFrom.get(key),
        state: this.keyStates.get(key),
      })),
      traffic: { running: this.traffic.running, perSecond: this.traffic.rate, ...this.traffic.quality },
      log: this.log,
    };
  }

  /** Reads every running node's decision counters (the plugin's /api/routes/stats) and pushes the state. */
  private async poll(): Promise<void> {
    await Promise.all(
      [...this.cluster.nodes.values()].map(async (node) => {
        try {
          const res = await fetch(`${node.url}/api/routes/stats`, { signal: AbortSignal.timeout(800) });
          const { counters } = (await res.json()) as {
            counters: { local: number; redirect: number; proxy: number; refuse: number; errors: number };
          };
          const next = {
            served: counters.local,
            redirected: counters.redirect,
            proxied: counters.proxy,
            refused: counters.refuse,
            errors: counters.errors,
          };
          const previous = this.counters.get(node.id);
          const total = (c: Counters) => c.served + c.redirected + c.proxied + c.refused + c.errors;
          this.rates.set(node.id, previous ? total(next) - total(previous) : 0);
          this.counters.set(node.id, next);
        } catch {
          this.rates.set(node.id, 0);
        }
      }),
    );
    for (const id of this.cluster.killed.keys()) this.rates.set(id, 0);
    await this.pollKeys();
    this.push();
  }

  /** Where each tracked key's state is now: the node that holds it (the owner, or the old owner while it moves) and its hits. */
  private async pollKeys(): Promise<void> {
    const nodes = [...this.cluster.nodes.values()];
    await Promise.all(
      TRACKED_KEYS.map(async (key) => {
        const views = await Promise.all(nodes.map(async (node) => ({ node, custody: await node.custody(key).catch(() => undefined) })));
        const holder = views.find((v) => v.custody?.held.hits !== undefined)?.node;
        const moving = views.some((v) => v.custody?.custody === 'moving' || v.custody?.custody === 'importing');
        let hits: number | undefined;
        if (holder) {
          try {
            const res = await fetch(`${holder.url}/peek/${encodeURIComponent(key)}`, { signal: AbortSignal.timeout(800) });
            hits = ((await res.json()) as { hits: number }).hits;
          } catch {
            // moving right now, or the holder was killed: shown without a count this time
          }
        }
        this.keyStates.set(key, { holder: holder?.id, moving, hits });
      }),
    );
  }

  private push(): void {
    if (this.streams.size === 0) return;
    const frame = `event: state\ndata: ${JSON.stringify(this.state())}\n\n`;
    for (const stream of this.streams) stream.write(frame);
  }

  private routes(): void {
    const { app, cluster } = this;
    for (const [path, file] of Object.entries(FILES)) {
      app.get(path, async (_request, reply) => {
        reply.type(TYPES[file.split('.').pop()!]!).header('cache-control', 'no-store');
        return readFile(new URL(file, PUBLIC), 'utf8');
      });
    }

    app.get('/api/state', async () => this.state());

    app.get('/api/events', (request, reply) => {
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      stream.write(`retry: 1000\nevent: state\ndata: ${JSON.stringify(this.state())}\n\n`);
      this.streams.add(stream);
      request.raw.on('close', () => this.streams.delete(stream));
    });

    app.get<{ Querystring: { key?: string } }>('/api/lookup', async (request, reply) => {
      const key = request.query.key?.trim();
      if (!key) return reply.code(400).send({ error: 'Bad Request', message: 'query parameter "key" is required' });
      if (key.length > 256) return reply.code(400).send({ error: 'Bad Request', message: 'key is longer than 256 characters' });
      const ring = cluster.observer.ring;
      const probes = await Promise.all([...cluster.nodes.values()].map((node) => probe(node, key)));
      return {
        key,
        path: keyPath(key),
        epoch: ring.epoch,
        position: ring.position(key),
        owner: ring.owner(key)?.id,
        chain: [...ring.candidates(key)].map((node) => ({ id: node.id, routable: isRoutable(node) })),
        probes,
      };
    });

    const action = (name: string, run: (id: string) => Promise<unknown>) =>
      app.post<{ Params: { id: string } }>(`/api/nodes/:id/${name}`, async (request, reply) => {
        try {
          await run(request.params.id);
        } catch (error) {
          return reply.code(409).send({ error: 'Conflict', message: (error as Error).message });
        }
        this.push();
        return this.state();
      });
    action('drain', (id) => cluster.drain(id));
    action('undrain', (id) => cluster.undrain(id));
    action('remove', (id) => cluster.remove(id));
    action('kill', (id) => cluster.kill(id));
    action('revive', (id) => cluster.revive(id));

    app.post('/api/nodes', async () => {
      await cluster.addNode();
      this.push();
      return this.state();
    });

    app.post<{ Body: { running?: unknown } }>('/api/traffic', async (request, reply) => {
      const running = request.body?.running;
      if (typeof running !== 'boolean') return reply.code(400).send({ error: 'Bad Request', message: '"running" must be a boolean' });
      if (running) this.traffic.start();
      else this.traffic.stop();
      this.push();
      return this.state();
    });
  }
}
