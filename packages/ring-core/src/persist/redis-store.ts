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

/**
 * Per key, in order: stores the value unless a higher token is stored. ARGV holds (token, 's' or 'd', value) per key:
 * 'd' deletes the value and keeps the token. Returns 1 (applied) or 0 (fenced) per key.
 */
const WRITE = `
local applied = {}
for i, key in ipairs(KEYS) do
  local token = ARGV[3 * i - 2]
  local stored = tonumber(redis.call('HGET', key, 't'))
  if stored and stored > tonumber(token) then
    applied[i] = 0
  else
    if ARGV[3 * i - 1] == 's' then
      redis.call('HSET', key, 't', token, 'v', ARGV[3 * i])
    else
      redis.call('HSET', key, 't', token)
      redis.call('HDEL', key, 'v')
    end
    applied[i] = 1
  end
end
return applied
`;

/** Keys per script call at most: Redis serves nothing else while a script runs. */
const CALL_KEYS = 1000;

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');
const CLAIM_SHA = sha1(CLAIM);
const WRITE_SHA = sha1(WRITE);
const noScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** Owned state's durable copy in Redis: standalone, Sentinel or Cluster. */
export function redisPersist(options: RedisPersistOptions): PersistStore {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object: { redis, prefix? }');
  checkKnownOptions(options, ['redis', 'prefix']);
  const prefix = options.prefix === undefined ? 'ringroute:owned' : checkString('prefix', options.prefix);
  // Writes through wait for it: reconnect at most 500 ms apart (ioredis waits up to 2 s).
  return new RedisPersistStore(checkRedis(options.redis, 500).connect(), prefix);
}

/**
 * One hash per key, changed only by two scripts (EVALSHA; the script text goes once per server, after NOSCRIPT).
 * A batch is one script call for all its keys (one per slot on a Cluster, in one pipeline per master): one command
 * per batch costs Redis and the client far less than one per key.
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
    await Promise.all(this.plan(entries).map((calls) => this.send(entries, calls, applied)));
    return applied;
  }

  async close(): Promise<void> {
    if (this.owned) await end(this.client);
  }

  private keyOf(key: string): string {
    return `${this.prefix}:${key}`;
  }

  /** Script calls (indices of `entries`) per server: every key in one call; on a Cluster, a call per slot. */
  private plan(entries: readonly PersistEntry[]): number[][][] {
    const all = entries.map((_, i) => i);
    if (!isCluster(this.client)) return all.length === 0 ? [] : [chunks(all, CALL_KEYS)];
    const slots = this.client.slots;
    const servers = new Map<string, Map<number, number[]>>();
    for (const i of all) {
      const slot = calculateSlot(this.keyOf(entries[i]!.key));
      // No slot map yet (or a slot without a master): a pipeline of its own, which ioredis sends once it knows.
      const server = slots[slot]?.join(';') ?? `slot ${slot}`;
      const calls = servers.get(server) ?? servers.set(server, new Map()).get(server)!;
      const call = calls.get(slot);
      if (call) call.push(i);
      else calls.set(slot, [i]);
    }
    return [...servers.values()].map((calls) => [...calls.values()].flatMap((call) => chunks(call, CALL_KEYS)));
  }

  /** One server's calls: a lone call by itself, several in a pipeline; after NOSCRIPT, the script text once. */
  private async send(entries: readonly PersistEntry[], calls: number[][], applied: boolean[]): Promise<void> {
    for (let todo = calls, loaded = true; todo.length > 0; loaded = false) {
      const args = todo.map((call) => {
        const keys = call.map((i) => this.keyOf(entries[i]!.key));
        const argv = call.flatMap((i) => {
          const { value, token } = entries[i]!;
          return value === null ? [String(token), 'd', ''] : [String(token), 's', asBuffer(value)];
        });
        return [loaded ? WRITE_SHA : WRITE, keys.length, ...keys, ...argv] as const;
      });
      this.count++;
      let replies: [Error | null, unknown][];
      if (args.length === 1) {
        const command = loaded ? this.client.evalsha(...args[0]!) : this.client.eval(...args[0]!);
        replies = [
          await command.then(
            (reply) => [null, reply] as [null, unknown],
            (error: Error) => [error, null] as [Error, null],
          ),
        ];
      } else {
        const pipeline = this.client.pipeline();
        for (const call of args)
          if (loaded) pipeline.evalsha(...call);
          else pipeline.eval(...call);
        replies = (await pipeline.exec()) ?? [];
      }
      const missing: number[][] = [];
      replies.forEach(([error, reply], j) => {
        if (error && loaded && noScript(error)) missing.push(todo[j]!);
        else if (error) throw error;
        else (reply as number[]).forEach((result, k) => (applied[todo[j]![k]!] = result === 1));
      });
      todo = missing;
    }
  }
}

const chunks = (indices: number[], size: number) =>
  Array.from({ length: Math.ceil(indices.length / size) }, (_, n) => indices.slice(n * size, (n + 1) * size));
