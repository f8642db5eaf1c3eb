import type { Cluster } from 'ioredis';
import {
  RefusedSnapshot,
  type BackendHooks,
  type BusMessage,
  type ClusterState,
  type Heartbeat,
  type MembershipBackend,
} from '../membership/backend.js';
import { Codec, Rejected } from '../membership/codec.js';
import { end, isCluster, majorVersion, type Client, type RedisTarget } from './connection.js';
import { ShardSubscriber } from './shard-subscriber.js';

/**
 * Replaces the snapshot and publishes the change only if the snapshot's seq is still the expected one. The channel
 * is KEYS[2] (it shares the snapshot's hash slot on a Cluster); ARGV[4] is PUBLISH or SPUBLISH; ARGV[6] the
 * snapshot's time to live (ms).
 */
const COMMIT = `
local current = redis.call('HGET', KEYS[1], 'seq') or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[5] ~= '' then redis.call(ARGV[4], KEYS[2], ARGV[5]) end
return 1
`;

/** Writes a heartbeat (KEYS[2], expiring after ARGV[2] ms) and extends the snapshot's (KEYS[1]) life to ARGV[3] ms. */
const BEAT = `
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
`;

/**
 * How long a Cluster command is retried before it fails (ms). A failover (node timeout plus an election) takes
 * seconds, during which ioredis gives up on a command ("Too many Cluster redirections").
 */
const RETRY_FOR = 30_000;
/** While a Cluster is unreachable, how often the backend checks whether it is back (ms). */
const PROBE_EVERY = 250;
/** A Cluster command unanswered this long means its slot has no reachable master: ioredis holds it through a failover. */
const UNANSWERED = 1000;

/**
 * The Redis transport: the snapshot in hash `key` (fields `seq` and `state`), changes on channel `channel` --
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE) on a Redis 7 Cluster, plain pub/sub elsewhere -- and each member's
 * heartbeat in its own expiring key `<key>:beat:<node id>` (one SET per beat, one MGET per read). `client` runs
 * commands; `subscriber` only listens (on a Redis 7 Cluster, on whichever master serves the channel's slot). A
 * standalone or Sentinel connection reports degraded/recovered through its connection events; a Cluster loses one
 * slot's master without closing, so there a failing command reports degraded and a probe reports recovered (the
 * subscriber reports its own losses). Its commands are retried with backoff, so a member that starts during a
 * failover joins once the store is back. The snapshot expires `keep` ms after the last commit or heartbeat of any
 * member, so a cluster's keys do not outlive it.
 */
export class RedisBackend implements MembershipBackend {
  private hooks: BackendHooks | undefined;
  private client!: Client;
  /** A duplicate of `client` that only listens; on a Redis 7 Cluster, a subscriber that follows the channel's slot. */
  private subscriber: Client | ShardSubscriber | undefined;
  /** Whether this backend created `client` (and so quits it on close). The subscriber is always ours. */
  private ownsClient = false;
  private sharded = false;
  /** Connections reported closed, plus 'commands' while a Cluster's commands fail. */
  private readonly down = new Set<Client | 'commands' | 'subscriber'>();
  private probe: ReturnType<typeof setInterval> | undefined;
  /** Resolves when a Cluster's commands work again: retries waiting for it go out at once. */
  private back = signal();
  private closed = false;
  private readonly listeners: [Client, string, (...args: never[]) => void][] = [];
  /** Each connection's last error since it was last ready: it says why the connection is down. */
  private readonly errors = new Map<Client, Error>();

  constructor(
    private readonly target: RedisTarget,
    private readonly key: string,
    private readonly channel: string,
    private readonly codec: Codec,
    /** The snapshot's time to live (ms), renewed by every commit and heartbeat. */
    private readonly keep: number,
  ) {}

  get store(): string {
    return this.target.store;
  }

  async open(hooks: BackendHooks): Promise<void> {
    this.hooks = hooks;
    this.closed = false;
    this.down.clear();
    this.errors.clear();
    [this.client, this.ownsClient] = this.target.connect();
    this.listenTo(this.client);
    this.sharded = isCluster(this.client) && (await this.command(() => majorVersion(this.client))) >= 7;
    if (this.sharded) {
      const shard = new ShardSubscriber(this.client as Cluster, this.channel, {
        message: (text) => this.receive(text),
        lost: (error) => this.lost('subscriber', error),
        regained: () => this.regained('subscriber'),
      });
      this.subscriber = shard;
      await this.command(() => shard.open());
      return;
    }
    const subscriber = this.client.duplicate();
    this.subscriber = subscriber;
    this.listenTo(subscriber);
    this.listen(subscriber, 'message', (channel: string, text: string) => {
      if (channel === this.channel) this.receive(text);
    });
    await this.command(() => subscriber.subscribe(this.channel));
  }

  async load(): Promise<ClusterState | null> {
    const [seq, state] = await this.command(() => this.client.hmget(this.key, 'seq', 'state'));
    if (seq == null || state == null) return null;
    try {
      const decoded = this.codec.decodeState(state);
      if (String(decoded.seq) !== seq) throw new Rejected('schema', `snapshot seq ${decoded.seq} does not match field seq ${seq}`);
      return decoded;
    } catch (error) {
      const { reason, message } = error as Rejected; // the codec throws nothing else
      this.hooks?.dropped(reason, `snapshot ${this.key}: ${message}`);
      const stored = /^\d+$/.test(seq) ? Number(seq) : null;
      throw new RefusedSnapshot(stored, `membership snapshot ${this.key} was refused (${reason}: ${message})`);
    }
  }

  async seq(): Promise<number | null> {
    const seq = await this.command(() => this.client.hget(this.key, 'seq'));
    return seq === null ? null : Number(seq);
  }

  async commit(expected: number | null, state: ClusterState, change: BusMessage | undefined): Promise<boolean> {
    const message = change ? this.codec.encode(change) : '';
    const publish = this.sharded ? 'SPUBLISH' : 'PUBLISH';
    const args = [expected === null ? '' : String(expected), String(state.seq), this.codec.encode(state), publish, message, this.keep];
    // A retry after a lost reply finds the seq moved and answers false; the member then resyncs and sees its change.
    return (await this.command(() => this.client.eval(COMMIT, 2, this.key, this.channel, ...args))) === 1;
  }

  async publish(message: BusMessage): Promise<void> {
    const text = this.codec.encode(message);
    // Not retried: a broadcast's caller sees the error.
    await this.command(() => (this.sharded ? this.client.spublish(this.channel, text) : this.client.publish(this.channel, text)), 0);
  }

  async beat(heartbeat: Heartbeat, ttl: number): Promise<void> {
    const text = this.codec.encode({ kind: 'heartbeat', ...heartbeat });
    // Not retried: the next beat supersedes it.
    await this.command(() => this.client.eval(BEAT, 2, this.key, this.beatKey(heartbeat.node), text, ttl, this.keep), 0);
  }

  async heartbeats(nodes: readonly string[]): Promise<(Heartbeat | null)[]> {
    if (nodes.length === 0) return [];
    // Not retried: a late read says nothing about now, and the next sync reads again.
    const texts = await this.command(() => this.client.mget(...nodes.map((node) => this.beatKey(node))), 0);
    return texts.map((text, i) => this.codec.readHeartbeat(text, nodes[i]!, this.hooks));
  }

  /** Shares the snapshot key's prefix, and so its hash tag on a Redis Cluster (one MGET reads them all). */
  beatKey(node: string): string {
    return `${this.key}:beat:${node}`;
  }

  async close(): Promise<void> {
    if (!this.hooks || this.closed) return; // never opened, or closed already
    this.closed = true;
    clearInterval(this.probe);
    for (const [client, event, listener] of this.listeners.splice(0)) client.off(event, listener as (...args: unknown[]) => void);
    const { subscriber } = this;
    const ending = subscriber instanceof ShardSubscriber ? subscriber.close() : subscriber && end(subscriber);
    await Promise.all([ending, this.ownsClient ? end(this.client) : undefined]);
  }

  /**
   * Runs a command; on a Cluster, retries failures with backoff for up to `retryFor` ms. A standalone or Sentinel
   * client already holds commands in its offline queue while it reconnects (to the promoted master).
   */
  private async command<T>(run: () => Promise<T>, retryFor = RETRY_FOR): Promise<T> {
    if (!isCluster(this.client)) return run().catch((error: Error) => Promise.reject(this.explain(error)));
    const deadline = Date.now() + retryFor;
    for (let delay = 50; ; delay = Math.min(2 * delay, 250)) {
      const timer = { id: undefined as ReturnType<typeof setTimeout> | undefined };
      try {
        const result = await Promise.race([run(), this.abandon(timer)]);
        this.commandsWork();
        return result;
      } catch (error) {
        this.commandsFail(error as Error);
        if (this.closed || Date.now() + delay > deadline) throw error;
        await Promise.race([new Promise((r) => setTimeout(r, delay)), this.back.promise]);
      } finally {
        clearTimeout(timer.id);
      }
    }
  }

  /**
   * Rejects when a Cluster command should be given up and sent again: ioredis held it for UNANSWERED ms, or the slot
   * came back meanwhile (the next attempt goes out with the refreshed slot map). A held commit that lands later is
   * harmless: the retry's compare-and-set fails, or the held one's does.
   */
  private abandon(timer: { id: ReturnType<typeof setTimeout> | undefined }): Promise<never> {
    return new Promise<never>((_, reject) => {
      timer.id = setTimeout(() => reject(new Error(`no answer for ${UNANSWERED} ms`)), UNANSWERED);
      if (this.down.has('commands')) void this.back.promise.then(() => reject(new Error('the Cluster is back: retry')));
    });
  }

  private commandsFail(error: Error): void {
    if (this.down.has('commands') || this.closed || !this.hooks) return;
    this.down.add('commands');
    // A Cluster that cannot connect at all says why in its own error ("Failed to refresh slots cache.").
    const cause = this.client.status === 'ready' ? undefined : this.errors.get(this.client);
    this.hooks?.degraded(new Error(cause ? describe(cause) : `Redis Cluster commands fail: ${error.message}`));
    // Not one probe at a time: ioredis may hold a probe through the failover, and a fresh one sees the new slot map.
    this.probe = setInterval(() => {
      this.client
        .hget(this.key, 'seq')
        .then(() => this.commandsWork())
        .catch(() => {});
    }, PROBE_EVERY);
  }

  private commandsWork(): void {
    if (this.closed || !this.down.delete('commands')) return;
    clearInterval(this.probe);
    this.back.resolve();
    this.back = signal();
    if (this.down.size === 0) this.hooks?.recovered();
  }

  private receive(text: string): void {
    this.codec.deliver(text, this.hooks);
  }

  /**
   * Reports a connection's 'close' and 'ready'. Its errors (which ioredis would log) say why it is down: a failed
   * connect (refused, unreachable sentinels, no slots) is reported at once, even when no 'close' follows.
   */
  private listenTo(client: Client): void {
    this.listen(client, 'error', (error: Error) => {
      this.errors.set(client, error);
      if (client.status !== 'ready') this.lost(client);
    });
    this.listen(client, 'close', () => this.lost(client));
    this.listen(client, 'ready', () => {
      this.errors.delete(client);
      this.regained(client);
    });
  }

  private lost(part: Client | 'subscriber', error?: Error): void {
    this.down.add(part);
    const which = part === 'subscriber' || part === this.subscriber ? 'subscriber' : 'commands';
    const cause = error ?? (part === 'subscriber' ? undefined : this.errors.get(part));
    this.hooks?.degraded(cause ? new Error(describe(cause)) : new Error(`lost the Redis connection (${which})`));
  }

  private regained(part: Client | 'subscriber'): void {
    if (!this.down.delete(part)) return;
    if (this.down.size === 0) this.hooks?.recovered();
  }

  /** ioredis's "Reached the max retries per request limit" says nothing of Redis: the connection's error does. */
  private explain(error: Error): Error {
    if (error.name !== 'MaxRetriesPerRequestError') return error;
    const cause = this.errors.get(this.client) ?? [...this.errors.values()][0];
    return cause ? new Error(describe(cause)) : error;
  }

  private listen(client: Client, event: string, listener: (...args: never[]) => void): void {
    client.on(event, listener as (...args: unknown[]) => void);
    this.listeners.push([client, event, listener]);
  }
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** ioredis's message, without the retry delay a Sentinel client adds (it changes on every attempt). */
const describe = (error: Error) => error.message.replace(/ Retrying from scratch after \d+ms\./, '');
