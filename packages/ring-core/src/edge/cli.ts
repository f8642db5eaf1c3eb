import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { RingRouteConfigError } from '../errors.js';
import { StaticMembership } from '../membership/static.js';
import type { Membership } from '../membership/types.js';
import type { HashName, NodeSpec } from '../types.js';
import { EDGE_PROXIES, type EdgeProxy } from './keys.js';
import { logMembership } from '../http/log.js';
import { haproxyReloader, nginxReloader } from './reload.js';
import { EdgeWriter } from './watch.js';
import { renderEdge, unroutable, type EdgeConfigOptions } from './render.js';

const USAGE = `usage: ringroute edge nginx|haproxy --key <query:name|header:name|cookie:name> (--nodes <file.json> | --redis <url> --cluster <name>)
  [--name <upstream>] [--hash sdbm|djb2|wt6|crc32] [--avalanche] [--out <file>]
  [--watch] [--nginx-prefix <dir>] [--nginx-conf <file>] [--nginx-bin <path>] [--haproxy-master <socket>]
  [--prefix <redis key prefix>] [--secret <membership secret>]`;

const OPTIONS = {
  key: { type: 'string' },
  nodes: { type: 'string' },
  redis: { type: 'string' },
  cluster: { type: 'string' },
  prefix: { type: 'string' },
  secret: { type: 'string' },
  name: { type: 'string' },
  hash: { type: 'string' },
  avalanche: { type: 'boolean' },
  out: { type: 'string' },
  watch: { type: 'boolean' },
  'nginx-prefix': { type: 'string' },
  'nginx-conf': { type: 'string' },
  'nginx-bin': { type: 'string' },
  'haproxy-master': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function membershipFor(proxy: EdgeProxy, args: Args): Promise<Membership> {
  const params = { strategy: proxy, ...(args.hash ? { hash: args.hash as HashName } : {}), ...(args.avalanche ? { avalanche: true } : {}) };
  if (args.nodes) return new StaticMembership({ ...params, nodes: await readNodes(args.nodes) });
  if (!args.redis || !args.cluster) throw new RingRouteConfigError('--nodes', 'give a node list file, or --redis and --cluster');
  // Loaded only here, so the static path runs without ioredis installed.
  const { RedisMembership } = await import('../redis/index.js');
  return new RedisMembership({ ...params, redis: args.redis, cluster: args.cluster, prefix: args.prefix, secret: args.secret });
}

/** The bin logs JSON lines to stderr (stdout carries the config when no --out is given). */
const stderrLogger = {
  info(details: object, message: string): void {
    process.stderr.write(`${JSON.stringify({ level: 'info', message, ...details })}\n`);
  },
  warn(details: object, message: string): void {
    const err = 'err' in details ? { err: String(details.err) } : {};
    process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...details, ...err })}\n`);
  },
};

async function readNodes(file: string): Promise<NodeSpec[]> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as NodeSpec[] | { nodes: NodeSpec[] };
  return Array.isArray(parsed) ? parsed : parsed.nodes;
}

/**
 * --watch with --nodes: the list file is the membership. Each change is applied to the (local) ring as removes,
 * adds and updates; a file that does not parse or validate is logged and the last good list kept.
 */
function followNodeFile(membership: Membership, file: string): () => void {
  let applying = Promise.resolve();
  const apply = async () => {
    const specs = await readNodes(file);
    const current = new Set(membership.ring.nodes.map((node) => node.id));
    const wanted = new Set(specs.map((spec) => spec.id));
    for (const id of current) if (!wanted.has(id)) await membership.remove(id);
    for (const { id, ...spec } of specs)
      if (!current.has(id)) await membership.add({ id, ...spec });
      else
        await membership.update(id, {
          url: undefined,
          weight: 1,
          status: 'alive',
          server: undefined,
          serverId: undefined,
          meta: undefined,
          ...spec,
        });
  };
  const listener = () => {
    applying = applying.then(apply).catch((error: unknown) => stderrLogger.warn({ err: error, file }, 'ringroute: node list not applied'));
  };
  watchFile(file, { interval: 200 }, listener);
  return () => unwatchFile(file, listener);
}

function reloaderFor(proxy: EdgeProxy, args: Args): (() => Promise<void>) | undefined {
  if (proxy === 'haproxy') return args['haproxy-master'] ? haproxyReloader(args['haproxy-master']) : undefined;
  if (!args['nginx-conf'] && !args['nginx-prefix'] && !args['nginx-bin']) return undefined;
  return nginxReloader({ binary: args['nginx-bin'], prefix: args['nginx-prefix'], config: args['nginx-conf'] });
}

/** `ending` resolves on `stop`'s abort, else on SIGINT or SIGTERM; `dispose` stops listening. */
function stopSignal(stop: AbortSignal | undefined): { ending: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const ending = new Promise<void>((r) => (resolve = r));
  const end = () => resolve();
  if (stop) stop.addEventListener('abort', end, { once: true });
  else process.once('SIGINT', end).once('SIGTERM', end);
  return {
    ending,
    dispose: () => (stop ? stop.removeEventListener('abort', end) : process.off('SIGINT', end).off('SIGTERM', end)),
  };
}

/**
 * `ringroute edge nginx|haproxy ...`: prints or writes the block; with --watch keeps it current until SIGINT/SIGTERM
 * (or `stop`, for embedding and tests). A membership store that is away is waited for (stderr says why). With no
 * routable member nothing is printed or written (the last good file stays): exit 1, or with --watch, watch on.
 */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, stop?: AbortSignal): Promise<number> {
  const { values: args, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  const [command, proxy] = positionals;
  if (args.help || command !== 'edge' || !EDGE_PROXIES.includes(proxy as EdgeProxy)) {
    out.write(`${USAGE}\n`);
    return args.help ? 0 : 2;
  }
  if (!args.key) throw new RingRouteConfigError('--key', "is required (the adapters' key, e.g. query:doc)");
  if (args.watch && !args.out) throw new RingRouteConfigError('--out', '--watch needs a file to keep current');
  const edge = proxy as EdgeProxy;
  const membership = await membershipFor(edge, args);
  const stopLogging = logMembership(membership, stderrLogger);
  const { ending, dispose } = stopSignal(stop);
  try {
    return await run(edge, args, { name: args.name, key: args.key }, membership, out, ending);
  } finally {
    dispose();
    stopLogging();
    await membership.stop();
  }
}

/** Waits for the membership (until stopped), then prints, writes once, or watches. */
async function run(
  edge: EdgeProxy,
  args: Args,
  config: EdgeConfigOptions,
  membership: Membership,
  out: NodeJS.WritableStream,
  ending: Promise<void>,
): Promise<number> {
  // start() keeps trying while the store is away; it rejects only once stopped.
  const started = membership.start().then(
    () => true,
    () => false,
  );
  if (!(await Promise.race([started, ending.then(() => false)]))) {
    process.stderr.write(`ringroute: stopped before the membership started (${membership.waiting})\n`);
    return 1;
  }
  if (!args.out) {
    const reason = unroutable(membership.ring);
    if (reason === undefined) out.write(renderEdge(edge, membership.ring, config));
    else process.stderr.write(`ringroute: nothing written: ${reason}\n`);
    return reason === undefined ? 0 : 1;
  }
  const writer = new EdgeWriter(membership, {
    ...config,
    proxy: edge,
    file: args.out,
    reload: reloaderFor(edge, args),
    logger: stderrLogger,
  });
  await writer.start();
  if (!args.watch) return writer.stats.failures === 0 && writer.stats.kept === 0 ? 0 : 1;
  const unfollow = args.nodes ? followNodeFile(membership, args.nodes) : undefined;
  await ending;
  unfollow?.();
  await writer.stop();
  return 0;
}
