import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { createHash } from 'node:crypto';
import { checkKnownOptions, checkString, fail } from '../errors.js';
import { checkRedis, end, isCluster, type Client, type RedisClusterConfig } from '../redis/connection.js';
import { asBuffer, asBytes, checkEntry, checkKey, checkToken } from './entries.js';
import type { PersistEntry, PersistStore } from './types.js';

export interface RedisPersistOptions {
  /**
   * A Redis URL, ioredis options (Sentinel: `{ sentinels, name }`), a Redis Cluster's startup nodes and ioredis
   * cluster options (`{ nodes, ...options }`), or an ioredis `Redis` / `Cluster` client (yours: left open on close()).
   */
  redis: string | RedisOptions | RedisClusterConfig | Redis | Cluster;
  /** Key `k` is the hash `<prefix>:k` (fields `t`: the token, `v`: the value). Default 'ringroute:owned'. */
  prefix?: string;
}

/** Raises the token unless a higher one is stored; returns {1} when fenced, else {0, value}. */
const CLAIM = `
local held = redis.call('HMGET', KEYS[1], 't', 'v')
local stored = tonumber(held[1])
local token = tonumber(ARGV[1])
if stored and stored > token then return {1} end
if stored ~= token then redis.call('HSET', KEYS[1], 't', ARGV[1]) end
return {0, held[2]}
`;

/** Stores ARGV[2] (or deletes the value when absent, keeping the token) unless a higher token is stored. */
const WRITE = `
local stored = tonumber(redis.call('HGET', KEYS[1], 't'))
if stored and stored > tonumber(ARGV[1]) then return 0 end
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'v', ARGV[2])
else
  redis.call('HSET', KEYS[1], 't', ARGV[1])
  redis.call('HDEL', KEYS[1], 'v')
end
return 1
`;

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');
const CLAIM_SHA = sha1(CLAIM);
const WRITE_SHA = sha1(WRITE);
const noScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** Owned state's durable copy in Redis: standalone, Sentinel or Cluster. */
export function redisPersist(options: RedisPersistOptions): PersistStore {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object: { redis, prefix? }');
  checkKnownOptions(options, ['redis', 'prefix']);
  const prefix = options.prefix === undefined ? 'ringroute:owned' : checkString('prefix', options.prefix);
  return new RedisPersistStore(checkRedis(options.redis).connect(), prefix);
}

/**
 * One hash per key, changed only by two scripts (EVALSHA; the script text goes once per server, after NOSCRIPT).
 * A batch is one pipeline per Redis node: on a Cluster, entries are grouped by the node serving their slot.
 */
class RedisPersistStore implements PersistStore {
  private count = 0;
  private readonly client: Client;
  private readonly owned: boolean;

  constructor(
    [client, owned]: [Client, boolean],
    private readonly prefix: string,
  ) {
    this.client = client;
    this.owned = owned;
    if (owned) client.on('error', () => {}); // failing commands report it; ioredis would log every reconnect
  }

  get commands(): number {
    return this.count;
  }

  async claim(key: string, token: number): Promise<{ value: Uint8Array | null; fenced: boolean }> {
    const args = [this.keyOf(checkKey(key)), String(checkToken(token))];
    this.count++;
    const reply = (await this.client.callBuffer('evalsha', CLAIM_SHA, 1, ...args).catch((error: unknown) => {
      if (!noScript(error)) throw error;
      this.count++;
      return this.client.callBuffer('eval', CLAIM, 1, ...args);
    })) as [number, Buffer | null];
    if (reply[0] === 1) return { value: null, fenced: true };
    return { value: reply[1] ? asBytes(reply[1]) : null, fenced: false };
  }

  async write(entries: readonly PersistEntry[]): Promise<boolean[]> {
    entries.forEach(checkEntry);
    const applied = new Array<boolean>(entries.length);
    await Promise.all(this.groups(entries).map((group) => this.writeGroup(entries, group, applied)));
    return applied;
  }

  async close(): Promise<void> {
    if (this.owned) await end(this.client);
  }

  private keyOf(key: string): string {
    return `${this.prefix}:${key}`;
  }

  /** Indices of `entries` per pipeline: all of them on one server; per serving node on a Cluster. */
  private groups(entries: readonly PersistEntry[]): number[][] {
    const all = entries.map((_, i) => i);
    if (!isCluster(this.client) || entries.length <= 1) return entries.length === 0 ? [] : [all];
    const slots = this.client.slots;
    const groups = new Map<string, number[]>();
    for (const i of all) {
      const slot = calculateSlot(this.keyOf(entries[i]!.key));
      // No slot map yet (or a slot without a node): a pipeline of its own, which ioredis sends once it knows.
      const node = slots[slot]?.join(';') ?? `slot ${slot}`;
      const group = groups.get(node);
      if (group) group.push(i);
      else groups.set(node, [i]);
    }
    return [...groups.values()];
  }

  private async writeGroup(entries: readonly PersistEntry[], group: number[], applied: boolean[]): Promise<void> {
    for (let todo = group, loaded = true; todo.length > 0; loaded = false) {
      const pipeline = this.client.pipeline();
      for (const i of todo) {
        const { key, value, token } = entries[i]!;
        const args = value === null ? [String(token)] : [String(token), asBuffer(value)];
        if (loaded) pipeline.evalsha(WRITE_SHA, 1, this.keyOf(key), ...args);
        else pipeline.eval(WRITE, 1, this.keyOf(key), ...args);
      }
      this.count++;
      const replies = (await pipeline.exec()) ?? [];
      const missing: number[] = [];
      replies.forEach(([error, reply], j) => {
        if (error && loaded && noScript(error)) missing.push(todo[j]!);
        else if (error) throw error;
        else applied[todo[j]!] = reply === 1;
      });
      todo = missing;
    }
  }
}
