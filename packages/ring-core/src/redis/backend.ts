import type { Cluster, Redis } from 'ioredis';
import {
  RefusedSnapshot,
  type BackendHooks,
  type BusMessage,
  type ClusterState,
  type Heartbeat,
  type MembershipBackend,
} from '../membership/backend.js';
import { Codec, Rejected } from '../membership/codec.js';

/** Replaces the snapshot and publishes the change only if the snapshot's seq is still the expected one. */
const COMMIT = `
local current = redis.call('HGET', KEYS[1], 'seq') or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3])
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
`;

type Client = Redis | Cluster;

/**
 * The Redis transport: the snapshot in hash `key` (fields `seq` and `state`), changes on pub/sub channel `channel`,
 * each member's heartbeat in its own expiring key `<key>:beat:<node id>` (one SET per beat, one MGET per read). `client` runs commands; `subscriber` (its duplicate) only listens. Connection events on either
 * one drive degraded/recovered; ioredis reconnects with its own backoff.
 */
export class RedisBackend implements MembershipBackend {
  private hooks: BackendHooks | undefined;
  private client!: Client;
  private subscriber!: Client;
  /** Whether this backend created `client` (and so quits it on close). The subscriber is always ours. */
  private ownsClient = false;
  private readonly down = new Set<Client>();
  private readonly listeners: [Client, string, (...args: never[]) => void][] = [];

  constructor(
    /** Returns the command client, and whether this backend created it. Called once, on open (not before start()). */
    private readonly connect: () => [Client, boolean],
    private readonly key: string,
    private readonly channel: string,
    private readonly codec: Codec,
  ) {}

  async open(hooks: BackendHooks): Promise<void> {
    this.hooks = hooks;
    [this.client, this.ownsClient] = this.connect();
    this.subscriber = this.client.duplicate();
    for (const client of [this.client, this.subscriber]) {
      this.listen(client, 'error', () => {}); // reported through 'close'; an unhandled 'error' would be logged by ioredis
      this.listen(client, 'close', () => this.lost(client));
      this.listen(client, 'ready', () => this.regained(client));
    }
    this.listen(this.subscriber, 'message', (channel: string, text: string) => {
      if (channel === this.channel) this.receive(text);
    });
    await this.subscriber.subscribe(this.channel);
  }

  async load(): Promise<ClusterState | null> {
    const [seq, state] = await this.client.hmget(this.key, 'seq', 'state');
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
    const seq = await this.client.hget(this.key, 'seq');
    return seq === null ? null : Number(seq);
  }

  async commit(expected: number | null, state: ClusterState, change: BusMessage | undefined): Promise<boolean> {
    const message = change ? this.codec.encode(change) : '';
    const args = [expected === null ? '' : String(expected), String(state.seq), this.codec.encode(state), this.channel, message];
    return (await this.client.eval(COMMIT, 1, this.key, ...args)) === 1;
  }

  async publish(message: BusMessage): Promise<void> {
    await this.client.publish(this.channel, this.codec.encode(message));
  }

  async beat(heartbeat: Heartbeat, ttl: number): Promise<void> {
    await this.client.set(this.beatKey(heartbeat.node), this.codec.encode({ kind: 'heartbeat', ...heartbeat }), 'PX', ttl);
  }

  async heartbeats(nodes: readonly string[]): Promise<(Heartbeat | null)[]> {
    if (nodes.length === 0) return [];
    const texts = await this.client.mget(...nodes.map((node) => this.beatKey(node)));
    return texts.map((text, i) => {
      if (text === null) return null;
      try {
        const heartbeat = this.codec.decodeHeartbeat(text);
        if (heartbeat.node !== nodes[i]) throw new Rejected('schema', `heartbeat of ${heartbeat.node} under the key of ${nodes[i]}`);
        return heartbeat;
      } catch (error) {
        const { reason, message } = error as Rejected; // the codec throws nothing else
        this.hooks?.dropped(reason, `heartbeat of ${nodes[i]}: ${message}`);
        return null;
      }
    });
  }

  /** Shares the snapshot key's prefix (and so its hash tag on a Redis Cluster). */
  beatKey(node: string): string {
    return `${this.key}:beat:${node}`;
  }

  async close(): Promise<void> {
    if (!this.hooks) return; // never opened
    for (const [client, event, listener] of this.listeners.splice(0)) client.off(event, listener as (...args: unknown[]) => void);
    await Promise.all([
      end(this.subscriber),
      this.ownsClient ? end(this.client) : Promise.resolve(),
    ]);
  }

  private receive(text: string): void {
    let message: BusMessage;
    try {
      message = this.codec.decodeMessage(text);
    } catch (error) {
      const { reason, message } = error as Rejected; // the codec throws nothing else
      this.hooks?.dropped(reason, message);
      return;
    }
    this.hooks?.message(message);
  }

  private lost(client: Client): void {
    this.down.add(client);
    this.hooks?.degraded(new Error(`lost the Redis connection (${client === this.subscriber ? 'subscriber' : 'commands'})`));
  }

  private regained(client: Client): void {
    this.down.delete(client);
    if (this.down.size === 0) this.hooks?.recovered();
  }

  private listen(client: Client, event: string, listener: (...args: never[]) => void): void {
    client.on(event, listener as (...args: unknown[]) => void);
    this.listeners.push([client, event, listener]);
  }
}

/** quit() politely when connected; disconnect() otherwise (a quit would wait for a reconnect that may never come). */
async function end(client: Client): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}
