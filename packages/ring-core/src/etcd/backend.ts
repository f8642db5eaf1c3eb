import type { Etcd3, IKeyValue, Namespace, Watcher } from 'etcd3';
import {
  RefusedSnapshot,
  type BackendHooks,
  type BusMessage,
  type ClusterState,
  type Heartbeat,
  type MembershipBackend,
} from '../membership/backend.js';
import { Codec, Rejected } from '../membership/codec.js';
import { MemberLease } from './lease.js';

/** Keys under the cluster's root. `seq` and `state` always change together, in one transaction. */
const SEQ = 'seq';
const STATE = 'state';
/** Every message is a put of this key: the watch delivers each put, in revision order, to every member. */
const BUS = 'bus';
/** `<root>beat/<node id>`: a member's heartbeat, under its lease. Nobody watches these; each member reads a few. */
const BEAT = 'beat/';

/**
 * The etcd transport: the snapshot in keys `<root>state` (signed, like every message) and `<root>seq` (the compare of
 * the compare-and-set transaction), messages as successive puts of `<root>bus`, read through one watch of that key.
 * The watch resumes from its last revision after a reconnect, so no message is lost across a short outage; its
 * connection drives degraded/recovered. Each member's heartbeat is the key `<root>beat/<node id>`, put through the
 * member's lease (TTL = failureTimeout): a crashed member's heartbeat vanishes with its lease.
 */
export class EtcdBackend implements MembershipBackend {
  private hooks: BackendHooks | undefined;
  private client!: Etcd3;
  private ns!: Namespace;
  private watcher: Watcher | undefined;
  /** Whether this backend created the client (and so closes it). */
  private ownsClient = false;
  private closed = false;
  private lease: MemberLease | undefined;
  /** Rejects a watch still waiting for etcd (set while open() waits). */
  private abandon: (() => void) | undefined;

  constructor(
    /** Returns the client, and whether this backend created it. Called on each open. */
    private readonly connect: () => [Etcd3, boolean],
    readonly store: string,
    /** Key prefix of this cluster, ending with '/'. */
    readonly root: string,
    private readonly codec: Codec,
  ) {}

  async open(hooks: BackendHooks): Promise<void> {
    this.hooks = hooks;
    this.closed = false;
    [this.client, this.ownsClient] = this.connect();
    this.ns = this.client.namespace(this.root);
    this.lease = new MemberLease(this.ns);
    await this.watch();
  }

  async load(): Promise<ClusterState | null> {
    const text = await this.ns.get(STATE).string();
    if (text === null) return null;
    try {
      return this.codec.decodeState(text);
    } catch (error) {
      const { reason, message } = error as Rejected; // the codec throws nothing else
      this.hooks?.dropped(reason, `snapshot ${this.root}${STATE}: ${message}`);
      // `seq` changes with `state` in one transaction: it is what a commit replacing this snapshot must expect.
      throw new RefusedSnapshot(await this.seq(), `membership snapshot ${this.root}${STATE} was refused (${reason}: ${message})`);
    }
  }

  async seq(): Promise<number | null> {
    const seq = await this.ns.get(SEQ).string();
    return seq !== null && /^\d+$/.test(seq) ? Number(seq) : null;
  }

  async commit(expected: number | null, state: ClusterState, change: BusMessage | undefined): Promise<boolean> {
    const writes = [this.ns.put(SEQ).value(String(state.seq)), this.ns.put(STATE).value(this.codec.encode(state))];
    if (change) writes.push(this.ns.put(BUS).value(this.codec.encode(change)));
    const guard = expected === null ? this.ns.if(SEQ, 'Version', '==', 0) : this.ns.if(SEQ, 'Value', '==', String(expected));
    return (await guard.then(...writes).commit()).succeeded;
  }

  async publish(message: BusMessage): Promise<void> {
    await this.ns.put(BUS).value(this.codec.encode(message));
  }

  async beat(heartbeat: Heartbeat, ttl: number): Promise<void> {
    await this.lease!.put(BEAT + heartbeat.node, this.codec.encode({ kind: 'heartbeat', ...heartbeat }), ttl);
  }

  async heartbeats(nodes: readonly string[]): Promise<(Heartbeat | null)[]> {
    const texts = await Promise.all(nodes.map((node) => this.ns.get(BEAT + node).string()));
    return texts.map((text, i) => this.codec.readHeartbeat(text, nodes[i]!, this.hooks)); // null: never beat, or its lease expired
  }

  async close(): Promise<void> {
    if (!this.hooks || this.closed) return; // never opened, or closed already
    this.closed = true;
    this.abandon?.();
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.cancel().catch(() => {});
    await this.lease?.revoke(); // after a graceful leave: the heartbeat goes at once
    if (this.ownsClient) this.client.close();
  }

  /**
   * Watches the bus from now on. Waits for etcd while it is unreachable (as a Redis client queues commands), reporting
   * each failed connect, until close() gives up on it.
   */
  private async watch(): Promise<void> {
    // watcher() rather than create(): the watcher exists while it connects, so that close() can cancel it.
    const watcher = this.ns.watch().key(BUS).watcher();
    this.watcher = watcher;
    const unreachable = (error: Error) => {
      // Each failed connect ends the stream too: that second report says nothing new.
      if (error.constructor.name !== 'EtcdWatchStreamEnded') this.hooks?.degraded(new Error(cause(error)));
    };
    watcher.on('disconnected', unreachable);
    await new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
      this.abandon = () => reject(new Error('membership closed before etcd was reachable'));
    }).finally(() => {
      this.abandon = undefined;
      watcher.off('disconnected', unreachable);
    });
    watcher.on('put', (kv: IKeyValue) => this.receive(kv.value.toString()));
    watcher.on('disconnected', (error: Error) => this.hooks?.degraded(error));
    watcher.on('connected', () => this.hooks?.recovered());
    // A canceled watch (its revision compacted away while disconnected): watch again from now, then resync.
    watcher.on('error', (error: Error) => {
      if (this.watcher !== watcher) return;
      this.watcher = undefined;
      this.hooks?.degraded(error);
      void watcher.cancel().catch(() => {});
      this.watch().then(
        () => this.hooks?.recovered(),
        () => {},
      );
    });
  }

  private receive(text: string): void {
    this.codec.deliver(text, this.hooks);
  }
}

/** gRPC's "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED …": the last error. */
function cause(error: Error): string {
  return /Last error: (?:Error: )?(.*?)\.? Resolution note:/.exec(error.message)?.[1] ?? error.message;
}
