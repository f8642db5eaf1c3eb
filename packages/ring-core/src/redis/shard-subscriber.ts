import { Redis, type Cluster } from 'ioredis';

/** How often the subscriber checks that it still listens on the master serving its slot (ms). */
const CHECK_EVERY = 250;

/** What the subscriber tells its owner: a message, and the subscription lost or back (messages may have been missed). */
export interface ShardSubscriberEvents {
  message(text: string): void;
  lost(error: Error): void;
  regained(): void;
}

/**
 * SSUBSCRIBE to one channel of a Redis 7 Cluster on the master serving the channel's slot, following the slot when
 * a failover or a resharding moves it. ioredis's own sharded subscribers (`shardedSubscribers: true`) stay on the
 * old master, which unsubscribes them when it loses the slot: after a planned failover nothing more arrived.
 * The slot map is the command client's: a command to the slot after the move refreshes it (MOVED), and a lost
 * subscription asks for a refresh.
 */
export class ShardSubscriber {
  private slot = -1;
  private connection: Redis | undefined;
  /** The master's `host:port` the current connection listens on, once its SSUBSCRIBE succeeded. */
  private listening: string | undefined;
  /** Set once `lost` was reported: the next successful SSUBSCRIBE reports `regained`. */
  private lost = false;
  private switching: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly channel: string,
    private readonly events: ShardSubscriberEvents,
  ) {}

  /** Resolves once subscribed on the slot's master; retried by the caller like any Cluster command. */
  async open(): Promise<void> {
    if (this.slot < 0) this.slot = Number(await this.cluster.cluster('KEYSLOT', this.channel));
    await this.follow();
    if (this.listening === undefined) throw new Error(`could not subscribe to ${this.channel}: no reachable master for slot ${this.slot}`);
    this.timer ??= setInterval(() => void this.follow(), CHECK_EVERY);
  }

  /** Disconnects; a subscribe under way fails with its connection and stops there. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.drop();
  }

  /** Subscribes on the slot's current master unless this subscriber listens there already. Never rejects. */
  private follow(): Promise<void> {
    if (this.closed || this.switching) return this.switching ?? Promise.resolve();
    const master = this.cluster.slots[this.slot]?.[0];
    if (master === undefined) this.cluster.refreshSlotsCache();
    if (master === undefined || master === this.listening) return Promise.resolve();
    this.switching = this.subscribe(master).finally(() => (this.switching = undefined));
    return this.switching;
  }

  private async subscribe(master: string): Promise<void> {
    if (this.listening !== undefined) this.lose(new Error(`the slot of ${this.channel} moved to ${master}`));
    this.drop();
    const colon = master.lastIndexOf(':');
    // No reconnects and no resubscribing by ioredis: a new master may serve the slot by then, so follow() decides.
    const connection = new Redis({
      ...this.cluster.options.redisOptions,
      host: master.slice(0, colon),
      port: Number(master.slice(colon + 1)),
      retryStrategy: () => null,
      autoResubscribe: false,
      enableReadyCheck: false,
      connectTimeout: 2000,
      connectionName: 'ringroute-ssubscriber',
    });
    this.connection = connection;
    connection.on('smessage', (channel: string, text: string) => {
      if (channel === this.channel && connection === this.connection) this.events.message(text);
    });
    // A server-side SUNSUBSCRIBE (the node lost the slot) reaches ioredis as an unexpected reply, reported as an
    // error; a closed connection means the master is gone. Either way: listen elsewhere.
    const lost = (error: Error) => {
      if (connection !== this.connection || this.listening === undefined) return;
      this.listening = undefined;
      this.lose(error);
    };
    connection.on('error', lost);
    connection.on('close', () => lost(new Error(`the sharded subscriber's connection to ${master} closed`)));
    try {
      await connection.ssubscribe(this.channel);
    } catch {
      if (connection !== this.connection) return; // closed, or replaced
      this.drop();
      this.cluster.refreshSlotsCache();
      return;
    }
    if (connection !== this.connection || this.closed) return;
    this.listening = master;
    if (this.lost) {
      this.lost = false;
      this.events.regained();
    }
  }

  private lose(error: Error): void {
    this.cluster.refreshSlotsCache();
    if (this.lost) return;
    this.lost = true;
    this.events.lost(error);
  }

  private drop(): void {
    const { connection } = this;
    this.connection = undefined;
    this.listening = undefined;
    connection?.disconnect();
  }
}
