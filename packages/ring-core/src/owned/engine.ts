import type { Registry } from 'prom-client';
import { checkKnownOptions, fail } from '../errors.js';
import { TypedEmitter } from '../events/emitter.js';
import { forwardingLogger, SILENT_LOGGER, type RingRouteLogger } from '../log.js';
import type { Membership } from '../membership/types.js';
import { isRoutable } from '../ring/nodes.js';
import { checkCodec } from './codec.js';
import { idOf, ownerOf, type Context, type Counters } from './context.js';
import { describeKey } from './custody.js';
import type { EndpointHandlers } from './endpoint.js';
import { StateUnavailableError } from './errors.js';
import { Follower, SETTLED } from './follower.js';
import { AdoptedState, KeyedState, type Access } from './keyed.js';
import { Lease } from './lease.js';
import { Ledger } from './ledger.js';
import { registerOwnedMetrics } from './metrics.js';
import { checkStateName, resolveOwnedStateOptions, type OwnedStateOptions, type ResolvedOwnedStateOptions } from './options.js';
import { persistKey, resolvePersistence, type Persistence } from './persist.js';
import { Receiver } from './receiver.js';
import { Sender } from './sender.js';
import { Space } from './space.js';
import { Transport } from './transport.js';
import type { HandoffProgress, KeyCustody, KeyedStateOptions, OwnedStateEvents, StatePort } from './types.js';

export { SETTLED };
/** How long drained and failed nodes are remembered as possible holders or crashed owners (ms). */
const MEMORY = 10 * 60_000;
const RETRY = Symbol('retry');

export interface OwnedStateDeps {
  membership: Membership;
  /** This node's id. */
  self: string;
  /** The router's path prefix: transfers go to `<node url><prefix>/api/routes/handoff` (the same on every node). */
  prefix?: string;
  logger?: RingRouteLogger;
  /** Where the `ringroute_handoff_*` metrics go (the router's registry). */
  registry?: Registry;
  options?: OwnedStateOptions;
}

/**
 * Owned state: per-key state kept in the owner's memory that follows its key through every ring change. One
 * engine per router; both HTTP adapters expose it (`state()`, `adopt()`), and mount its transfer endpoint.
 * Custody is one side at a time (Redis Cluster's MIGRATING / IMPORTING): a node serves a key only while the ring
 * gives it the key and nobody else may still hold it; the old owner stops serving it at the ring change, pushes it
 * in the background (bounded, like Akka's rebalance), deletes it once the new owner confirmed, and a request for a
 * key still on its way pulls it first. With `persist`, the store keeps the durable copy for crashes.
 */
export class OwnedState extends TypedEmitter<OwnedStateEvents> implements Access {
  readonly options: ResolvedOwnedStateOptions;
  /** What the transfer endpoint (`router.handoffEndpoint`) hands its requests to. */
  readonly handlers: EndpointHandlers;
  private readonly membership: Membership;
  private readonly self: string;
  /** Where the engine (and its Persister) log: forwards to the logger of `useLogger()`. */
  private readonly log: RingRouteLogger;
  private logger: RingRouteLogger;
  private readonly ledger: Ledger;
  private readonly lease: Lease;
  private readonly spaces = new Map<string, Space>();
  private readonly persistence: Persistence | undefined;
  private readonly transport: Transport;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly counters: Counters = { bytes: 0, received: 0, receivedBytes: 0, pulled: 0, dropped: 0, startedEmpty: 0, loaded: 0 };
  private readonly context: Context;
  private readonly follower: Follower;
  private leaving: Promise<void> | undefined;
  private stopped = false;

  constructor(deps: OwnedStateDeps) {
    super();
    const { membership, self } = deps;
    this.membership = membership;
    this.self = self;
    this.options = resolveOwnedStateOptions(deps.options);
    this.logger = deps.logger ?? SILENT_LOGGER;
    this.log = forwardingLogger(() => this.logger);
    this.persistence = resolvePersistence(this.options.persist, (key) => this.lostDurably(key), this.log);
    this.ledger = new Ledger(self, MEMORY);
    this.lease = new Lease(membership);
    this.transport = new Transport(self, deps.prefix ?? '', membership.signer, this.options.transferTimeout);
    const context: Context = (this.context = {
      self,
      ledger: this.ledger,
      spaces: this.spaces,
      transport: this.transport,
      persistence: this.persistence,
      options: this.options,
      counters: this.counters,
      log: this.log,
      sync: () => this.sync(),
      emit: (event, payload) => {
        if (this.listenerCount(event) > 0) this.emit(event, ...([payload()] as Parameters<OwnedStateEvents[typeof event]>));
      },
    });
    this.sender = new Sender(context);
    this.receiver = new Receiver(context);
    this.handlers = {
      maxBatchBytes: this.options.maxBatchBytes,
      push: (push) => this.receiver.push(push),
      pull: async (pull) => {
        if (pull.token > this.ledger.token) await this.sync();
        return { result: await this.sender.pulled(pull.state, pull.key), token: this.ledger.token };
      },
      describe: (key) => this.describe(key),
    };
    this.follower = new Follower(
      membership,
      context,
      this.sender,
      (token) => this.listenerCount('settled') > 0 && this.emit('settled', token),
    );
    if (deps.registry)
      registerOwnedMetrics(
        deps.registry,
        self,
        () => this.progress(),
        () => this.persistence?.stats(),
      );
    this.follower.start();
    this.lease.start();
  }

  /** Logs through `logger` from now on (the adapter's, once it is known). */
  useLogger(logger: RingRouteLogger): void {
    this.logger = logger;
  }

  get maxValueBytes(): number {
    return this.options.maxValueBytes;
  }

  /** Whether this node keeps owned state (a state was declared) and is running: it takes transfers. */
  get active(): boolean {
    return this.spaces.size > 0 && !this.stopped;
  }

  /** A named state kept by RingRoute: `get`, `set`, `update`, `delete` on the owner, moved with the ring. */
  state<T>(name: string, options: KeyedStateOptions<T> = {}): KeyedState<T> {
    if (options === null || typeof options !== 'object') fail('options', 'must be an object { codec? }');
    checkKnownOptions(options, ['codec'], 'options.');
    const codec = checkCodec<T>(options.codec, 'options.codec');
    return new KeyedState<T>(this, this.declare(name, undefined), codec);
  }

  /** An app's own store under RingRoute's custody: its keys move with the ring; `use(key, fn)` runs fn as the key's owner. */
  adopt(name: string, port: StatePort): AdoptedState {
    for (const method of ['export', 'import', 'delete', 'keys'] as const)
      if (typeof (port as unknown as Record<string, unknown> | null)?.[method] !== 'function')
        fail('port', `must have export, import, delete and keys methods (no ${method}())`);
    return new AdoptedState(this, this.declare(name, port), this.persistence !== undefined);
  }

  private declare(name: string, port: StatePort | undefined): Space {
    if (this.spaces.has(checkStateName(name))) fail('name', `a state named ${JSON.stringify(name)} exists already on this router`);
    const space = new Space(name, port);
    this.spaces.set(name, space);
    this.follower.rescan(this.ledger.token);
    return space;
  }

  async access<R>(space: Space, key: string, operation: () => R | Promise<R>): Promise<R> {
    const id = idOf(space.name, key);
    for (;;) {
      if (this.stopped) throw new StateUnavailableError(key, 'stopped', 'this node is shutting down');
      if (!this.lease.fresh)
        await this.lease.confirm().catch(() => {
          throw new StateUnavailableError(key, 'not-owner', 'this node stalled and cannot reach the membership store to confirm its ring');
        });
      const owner = ownerOf(this.ledger.ring, key);
      if (owner !== this.self)
        throw new StateUnavailableError(
          key,
          'not-owner',
          `node ${JSON.stringify(owner)} owns this key by the ring (the request is tried again)`,
        );
      if (this.sender.scheduler.has(id)) {
        await this.sender.scheduler.settled(id);
        continue;
      }
      const result = await space.gate.run(key, async () => {
        if (this.sender.scheduler.has(id) || ownerOf(this.ledger.ring, key) !== this.self) return RETRY;
        await this.receiver.establish(space, key);
        return operation();
      });
      if (result !== RETRY) return result as R;
    }
  }

  /** The store's refusal drops the key here (the Persister's onFenced, for 'through' and 'behind' alike). */
  async write(space: Space, key: string, value: Uint8Array | null): Promise<void> {
    if (!this.persistence || (await this.persistence.write(persistKey(space.name, key), value, this.ledger.token))) return;
    throw new StateUnavailableError(key, 'lost', 'a newer owner holds this key (this node lost it)');
  }

  progress(): HandoffProgress {
    const held: Record<string, number> = {};
    for (const [name, space] of this.spaces) held[name] = space.size;
    return {
      token: this.ledger.token,
      ...this.sender.scheduler.progress(),
      ...this.counters,
      held,
      settled: this.follower.announced === this.ledger.token && this.sender.scheduler.size === 0,
    };
  }

  /** A key's custody on this node: owned, importing, moving or elsewhere, with the bytes held per state. */
  describe(key: string): Promise<KeyCustody> {
    return describeKey(key, this.context, this.sender.scheduler);
  }

  /** Hands every key to its new owner (this node turns 'leaving' first, so the ring gives them away). Idempotent. */
  leave(): Promise<void> {
    return (this.leaving ??= this.handOverEverything());
  }

  /** Stops the engine; with `leave`, after handing everything over. Then flushes and closes `persist`. */
  async close(leave: boolean): Promise<void> {
    if (leave) await this.leave();
    this.stopped = true;
    this.lease.stop();
    this.follower.stop();
    await this.transport.close();
    await this.persistence?.close();
  }

  private async handOverEverything(): Promise<void> {
    if (this.spaces.size === 0 || this.stopped) return;
    const deadline = Date.now() + this.options.leaveTimeout;
    const me = this.ledger.ring?.node(this.self);
    if (me && isRoutable(me))
      await this.membership.update(this.self, { status: 'leaving' }).catch((error: unknown) => {
        this.log.warn({ err: error }, 'ringroute: could not announce leaving; keys are handed over on the ring as it is');
      });
    await this.follower.scanned;
    const { scheduler } = this.sender;
    // Until every key is confirmed, the deadline passes, or no node is left to take them (a whole cluster stopping).
    const heir = () => this.ledger.ring?.nodes.some((node) => node.id !== this.self && isRoutable(node)) === true;
    while (scheduler.size > 0 && heir() && Date.now() < deadline) await this.follower.idleOrChanged(deadline - Date.now());
    if (scheduler.size === 0) this.follower.announce(this.ledger.token);
    else
      this.log.error(
        { keys: scheduler.size, leaveTimeout: this.options.leaveTimeout },
        heir()
          ? 'ringroute: leaving before every key was handed over'
          : 'ringroute: no other node to hand the keys to; they are left behind',
      );
    await this.persistence?.flush();
  }

  private async sync(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.transferTimeout)));
    try {
      await Promise.race([this.membership.sync?.(), timeout]);
    } catch (error) {
      this.log.warn({ err: error }, 'ringroute: could not catch up with the membership store');
    } finally {
      clearTimeout(timer);
    }
  }

  /** This node lost a key (the store refused its write): it forgets its copy (once) and catches up with the ring. */
  private async lost(space: Space, key: string): Promise<void> {
    if (!space.established(key)) return;
    await space.remove(key);
    this.counters.dropped++;
    if (this.listenerCount('dropped') > 0) this.emit('dropped', { state: space.name, key, reason: 'fenced' });
    void this.sync();
  }

  private lostDurably(durableKey: string): void {
    const at = durableKey.indexOf(':');
    const space = this.spaces.get(durableKey.slice(0, at));
    if (space) void this.lost(space, durableKey.slice(at + 1)).catch(() => {});
  }
}
