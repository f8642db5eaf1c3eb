import { checkString, fail } from '../errors.js';
import { TypedEmitter } from '../events/emitter.js';
import { createRing, resolveRingParams } from '../ring/ring.js';
import { resolveNode, toSpec } from '../ring/nodes.js';
import type { NodeSpec, Ring } from '../types.js';
import type { BackendHooks, BusMessage, ClusterChange, ClusterState, MembershipBackend } from './backend.js';
import {
  DROP_REASONS,
  type DropReason,
  type LeaveReason,
  type Membership,
  type MembershipEvents,
  type MembershipStats,
  type RingParams,
} from './types.js';

/** Heartbeats and failure detection, for members in separate processes. */
export interface FailureDetection {
  /** Heartbeat period, and period of the check of the snapshot's seq (ms). */
  syncInterval: number;
  /** No heartbeat for this long: suspected; for twice as long: removed (ms). */
  failureTimeout: number;
}

export interface SharedMembershipOptions extends RingParams {
  self?: NodeSpec | undefined;
  /** Omitted in one process, where a member can only leave through stop(). */
  detection?: FailureDetection | undefined;
}

/** Compare-and-set races a proposal may lose before giving up (each loss means someone else's change landed). */
const MAX_ATTEMPTS = 20;

/**
 * How far another host's wall clock may be behind or ahead of ours when judging a heartbeat's send time (ms). NTP
 * keeps hosts within milliseconds; a second also absorbs a clock step or a briefly paused VM, so a live member is not
 * refused (and then evicted) for its clock, while a captured heartbeat still goes stale soon after failureTimeout.
 */
const CLOCK_SKEW = 1000;

type Heartbeat = Extract<BusMessage, { kind: 'heartbeat' }>;

type Phase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The membership protocol shared by MemoryMembership and RedisMembership: members agree on a snapshot with a
 * sequence number; every change is a compare-and-set on that snapshot plus an ordered delta, so all members apply
 * the same changes in the same order and converge on the same checksum. Gaps trigger a reload of the snapshot.
 */
export class SharedMembership extends TypedEmitter<MembershipEvents> implements Membership {
  readonly self: NodeSpec | undefined;
  private readonly params: RingParams;
  private readonly detection: FailureDetection | undefined;
  /** Distinguishes this instance's own echoes on the bus. */
  private readonly instance = randomId();
  private current: Ring | undefined;
  private seq = -1;
  private members = new Set<string>();
  private readonly lastHeard = new Map<string, number>();
  /** Heartbeats this instance has sent: each carries the next number, so receivers can refuse a replayed one. */
  private beats = 0;
  /** The last beat heard from each sender instance, and when (to forget instances that fell silent). */
  private readonly beatsHeard = new Map<string, { beat: number; at: number }>();
  /** Failure detection is suspended until then (after an outage nobody could heartbeat through). */
  private graceUntil = 0;
  private phase: Phase = 'idle';
  private started: Promise<void> | undefined;
  private isDegraded = false;
  /** An operator removed this node: it stops claiming membership until restarted. */
  private evicted = false;
  private proposals: Promise<unknown> = Promise.resolve();
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private readonly detecting = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private tickPeriod = 0;
  private lastTick = 0;
  private lastBeat = 0;
  private lastCheck = 0;
  /** When this member last heard its own heartbeat back: until then, at least, the bus carried heartbeats to it. */
  private lastEcho = 0;
  private readonly counters = {
    received: 0,
    applied: 0,
    stale: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    resyncs: 0,
    outages: 0,
    messages: 0,
    listenerErrors: 0,
  };
  private readonly dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  constructor(
    private readonly backend: MembershipBackend,
    options: SharedMembershipOptions,
  ) {
    super();
    this.self = options.self === undefined ? undefined : toSpec(resolveNode(options.self, 'self'));
    this.params = resolveRingParams(options);
    this.detection = options.detection;
  }

  get ring(): Ring {
    if (!this.current) throw new Error('membership has no ring yet: await membership.start() first');
    return this.current;
  }

  get ready(): boolean {
    return this.current !== undefined && this.phase !== 'stopped';
  }

  get degraded(): boolean {
    return this.isDegraded;
  }

  /** Counted in `stats().listenerErrors` and logged: a listener never breaks membership processing. */
  protected override onListenerError(error: unknown, event: keyof MembershipEvents): void {
    this.counters.listenerErrors++;
    super.onListenerError(error, event);
  }

  start(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return Promise.reject(new Error('membership was stopped; create a new one'));
    this.started ??= this.join();
    return this.started;
  }

  private async join(): Promise<void> {
    this.phase = 'starting';
    try {
      await this.backend.open(this.hooks);
      await this.requestResync();
      const self = this.self;
      if (self) {
        await this.propose((ring) => {
          const existing = ring.node(self.id);
          if (!existing) return { add: [self], join: [self.id] };
          // A restart under the same id: take the node over with the configured spec.
          const join = this.members.has(self.id) ? undefined : [self.id];
          const same = existing.url === self.url && existing.weight === self.weight && existing.status === self.status;
          return same && !join ? undefined : { update: [self], join };
        });
      }
    } catch (error) {
      this.phase = 'stopped';
      await this.backend.close().catch(() => {});
      throw error;
    }
    this.phase = 'running';
    const { detection } = this;
    if (detection) {
      this.tickPeriod = Math.max(10, Math.min(detection.syncInterval, detection.failureTimeout / 4));
      this.lastTick = this.lastEcho = clock();
      this.timer = setInterval(() => this.tick(detection), this.tickPeriod);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    if (this.started) await this.started.catch(() => {});
    this.phase = 'stopping';
    clearInterval(this.timer);
    const self = this.self;
    if (self && !this.evicted && !this.isDegraded && this.current?.node(self.id)) {
      // Graceful leave: one committed change removes the node from every member at once.
      await this.propose((ring) => (ring.node(self.id) ? { remove: [self.id], reason: 'graceful' } : undefined)).catch(
        () => {},
      );
    }
    await this.proposals.catch(() => {});
    this.phase = 'stopped';
    await this.backend.close();
  }

  add(node: NodeSpec): Promise<void> {
    const spec = toSpec(resolveNode(node, 'node'));
    return this.propose((ring) => {
      if (ring.node(spec.id)) fail('node.id', `a node with id ${JSON.stringify(spec.id)} is already a member`);
      return { add: [spec] };
    });
  }

  remove(id: string): Promise<void> {
    checkString('id', id);
    return this.propose((ring) => {
      if (!ring.node(id)) fail('id', `unknown node id ${JSON.stringify(id)}`);
      return { remove: [id], reason: 'removed' };
    });
  }

  update(id: string, patch: Partial<Omit<NodeSpec, 'id'>>): Promise<void> {
    checkString('id', id);
    if (patch === null || typeof patch !== 'object') fail('patch', 'must be an object');
    return this.propose((ring) => {
      if (!ring.node(id)) fail('id', `unknown node id ${JSON.stringify(id)}`);
      return { update: [{ ...patch, id }] };
    });
  }

  pin(key: string, nodeId: string | null): Promise<void> {
    checkString('key', key);
    if (nodeId !== null) checkString('nodeId', nodeId);
    return this.propose((ring) => {
      if (nodeId !== null && !ring.node(nodeId)) fail('nodeId', `unknown node id ${JSON.stringify(nodeId)}`);
      if ((ring.pins[key] ?? null) === nodeId) return undefined;
      return { pins: { [key]: nodeId } };
    });
  }

  async broadcast(type: string, data: unknown): Promise<void> {
    checkString('type', type);
    if (this.phase !== 'running') throw new Error('membership is not running: await membership.start() first');
    await this.backend.publish({ kind: 'app', sender: this.instance, from: this.self?.id, type, data });
  }

  stats(): MembershipStats {
    return {
      ...this.counters,
      dropped: { ...this.dropped },
      members: this.current?.nodes.length ?? 0,
      epoch: this.current?.epoch ?? 0,
      ready: this.ready,
      degraded: this.isDegraded,
    };
  }

  private readonly hooks: BackendHooks = {
    message: (message) => {
      this.counters.received++;
      if (message.sender === this.instance) {
        if (message.kind === 'heartbeat') this.lastEcho = clock();
        return;
      }
      if (message.kind === 'change') this.onChange(message.seq, message.change);
      else if (message.kind === 'heartbeat') this.onHeartbeat(message);
      else if (this.phase === 'running') {
        this.counters.messages++;
        this.emit('message', { type: message.type, data: message.data, from: message.from });
      }
    },
    dropped: (reason, detail) => {
      this.counters.received++;
      this.drop(reason, detail);
    },
    degraded: (error) => {
      if (this.isDegraded) return;
      this.isDegraded = true;
      this.counters.outages++;
      this.emit('degraded', error);
    },
    recovered: () => {
      if (!this.isDegraded) return;
      this.isDegraded = false;
      // Nobody could heartbeat through the outage: give every member a full timeout before suspecting anyone.
      this.graceUntil = clock() + (this.detection?.failureTimeout ?? 0);
      this.requestResync()
        .then(() => {
          if (!this.isDegraded) this.emit('recovered');
          this.heal();
        })
        .catch(() => {});
    },
  };

  private onChange(seq: number, change: ClusterChange): void {
    if (!this.current) {
      if (this.resyncing) this.resyncAgain = true; // the snapshot being loaded may predate this change
      return;
    }
    if (seq <= this.seq) {
      this.counters.stale++;
      return;
    }
    if (seq > this.seq + 1) {
      void this.requestResync().catch(() => {}); // missed a change: reload the snapshot
      return;
    }
    let next: Ring;
    try {
      next = this.current.with(change);
    } catch (error) {
      this.drop('invalid-change', (error as Error).message);
      void this.requestResync().catch(() => {});
      return;
    }
    this.apply(seq, next, change);
  }

  private drop(reason: DropReason, detail: string): void {
    this.dropped[reason]++;
    this.emit('dropped', reason, detail);
  }

  private onHeartbeat({ sender, node, seq, beat, sentAt }: Heartbeat): void {
    const replayed = this.replayed(sender, beat, sentAt);
    if (replayed) return this.drop('replayed', `heartbeat of ${node}: ${replayed}`);
    this.beatsHeard.set(sender, { beat, at: clock() });
    this.counters.heartbeatsReceived++;
    this.lastHeard.set(node, clock());
    if (this.current && seq > this.seq) void this.requestResync().catch(() => {});
  }

  /**
   * Why a validly signed heartbeat is not fresh (undefined when it is): anyone on the bus could have captured it and
   * publish it again to keep a dead node looking alive. The beat catches a replay to members that heard the original;
   * the send time (the wall clock: the only one two hosts share) catches one to members that joined since.
   */
  private replayed(sender: string, beat: number, sentAt: number): string | undefined {
    const last = this.beatsHeard.get(sender)?.beat ?? 0;
    if (beat <= last) return `beat ${beat}, already heard ${last}`;
    const age = Date.now() - sentAt;
    if (age > (this.detection?.failureTimeout ?? Infinity) + CLOCK_SKEW) return `sent ${age} ms ago`;
    // Dated ahead of our clock by more than the skew: it would stay replayable for that much longer.
    if (age < -CLOCK_SKEW) return `sent ${-age} ms ahead of this clock`;
    return undefined;
  }

  private apply(seq: number, next: Ring, change: ClusterChange): void {
    const previous = this.current;
    this.seq = seq;
    this.counters.applied++;
    for (const id of change.remove ?? []) {
      this.members.delete(id);
      this.lastHeard.delete(id);
    }
    for (const id of change.join ?? []) {
      this.members.add(id);
      this.lastHeard.set(id, clock());
    }
    const selfRemoved = this.self && change.remove?.includes(this.self.id);
    if (selfRemoved && change.reason !== 'failed' && this.phase !== 'stopping') this.evicted = true;
    this.publishRing(next, previous, change.reason ?? 'removed');
    if (selfRemoved || change.update?.some((u) => u.id === this.self?.id)) this.heal();
  }

  /** Emits 'ring' and then one 'joined' / 'left' / 'status' per node that differs between the two snapshots. */
  private publishRing(next: Ring, previous: Ring | undefined, reason: LeaveReason): void {
    this.current = next;
    this.emit('ring', next, previous);
    if (!previous) {
      for (const node of next.nodes) this.emit('joined', node);
      return;
    }
    for (const node of next.nodes) {
      const before = previous.node(node.id);
      if (!before) this.emit('joined', node);
      else if (before.status !== node.status) this.emit('status', node, before.status, node.status);
    }
    for (const node of previous.nodes) if (!next.node(node.id)) this.emit('left', node, reason);
  }

  /** Reloads the snapshot; concurrent requests share one reload, and a request during a reload queues one more. */
  private requestResync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      try {
        do {
          this.resyncAgain = false;
          await this.resync();
        } while (this.resyncAgain);
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  private async resync(): Promise<void> {
    const before = this.seq;
    let state = await this.backend.load();
    if (!state) {
      // No snapshot (first member ever, or the backend lost its data): seed it with what this member knows.
      await this.backend.commit(null, this.stateOf(this.current, this.seq + 1, this.members), undefined);
      state = await this.backend.load();
      if (!state) throw new Error('membership snapshot could not be created');
    }
    this.counters.resyncs++;
    // A change applied while loading is newer than what we read; a lower seq without one means the backend lost data.
    if (this.current && (state.seq === this.seq || (this.seq !== before && state.seq < this.seq))) return;
    const previous = this.current;
    const next = await createRing({
      ...this.params,
      nodes: state.nodes,
      pins: state.pins,
      epoch: Math.max(state.seq, previous ? previous.epoch + 1 : 0),
    });
    if (this.current !== previous) return this.resync(); // a change landed while building: start over
    this.seq = state.seq;
    this.members = new Set(state.members);
    const now = clock();
    for (const id of this.members) if (!this.lastHeard.has(id)) this.lastHeard.set(id, now);
    if (previous && previous.checksum === next.checksum) {
      this.current = next;
      return;
    }
    this.publishRing(next, previous, 'resync');
    this.heal();
  }

  /** Keeps this node in the ring: re-adds it after a wrongful eviction or data loss, refutes suspicion. */
  private heal(): void {
    const self = this.self;
    if (!self || this.evicted || this.phase !== 'running' || this.isDegraded) return;
    void this.propose((ring) => {
      const node = ring.node(self.id);
      if (!node) return { add: [self], join: [self.id] };
      if (node.status === 'suspected') return { update: [{ id: self.id, status: self.status }] };
      if (!this.members.has(self.id) && this.detection) return { join: [self.id] };
      return undefined;
    }).catch(() => {});
  }

  private tick({ syncInterval, failureTimeout }: FailureDetection): void {
    const now = clock();
    // A late tick means this process stalled (GC, CPU starvation): heartbeats may be waiting unread in the socket,
    // so silence measured across the stall says nothing about the others. Measure it from now instead.
    if (now - this.lastTick > 2 * this.tickPeriod) this.graceUntil = Math.max(this.graceUntil, now);
    this.lastTick = now;
    if (this.phase !== 'running' || this.isDegraded || !this.current) return;
    if (this.self && !this.evicted && now - this.lastBeat >= syncInterval) {
      this.lastBeat = now;
      this.counters.heartbeatsSent++;
      this.backend
        .publish({
          kind: 'heartbeat',
          sender: this.instance,
          node: this.self.id,
          seq: this.seq,
          beat: ++this.beats,
          sentAt: Date.now(),
        })
        .catch(() => {});
    }
    if (now - this.lastCheck >= syncInterval) {
      this.lastCheck = now;
      this.backend
        .seq()
        .then((seq) => {
          if (seq !== this.seq) return this.requestResync();
        })
        .catch(() => {});
    }
    // Silence counts only up to the last time this member's own heartbeats came back: when they stop (a store
    // failover, a broken subscription) it hears nobody, and the others' silence says nothing about them.
    const heardUntil = this.self && !this.evicted ? Math.min(now, this.lastEcho + syncInterval) : now;
    this.detect(heardUntil, failureTimeout);
    this.forgetSilentSenders(now, failureTimeout);
  }

  /**
   * An instance heard last this long ago can only be replayed with heartbeats that are too old by now (its send
   * times were at most CLOCK_SKEW ahead of ours), so its last beat need not be remembered.
   */
  private forgetSilentSenders(now: number, timeout: number): void {
    for (const [sender, { at }] of this.beatsHeard) if (now - at > timeout + 2 * CLOCK_SKEW) this.beatsHeard.delete(sender);
  }

  /** Silent for one timeout: suspected. Silent for two: removed as failed. */
  private detect(now: number, timeout: number): void {
    for (const id of this.members) {
      if (id === this.self?.id || this.detecting.has(id)) continue;
      const silentFor = now - Math.max(this.lastHeard.get(id) ?? now, this.graceUntil);
      const node = this.current?.node(id);
      if (!node) continue;
      let change: ClusterChange | undefined;
      if (silentFor > 2 * timeout) change = { remove: [id], reason: 'failed' };
      else if (silentFor > timeout && node.status !== 'suspected' && node.status !== 'dead')
        change = { update: [{ id, status: 'suspected' }] };
      if (!change) continue;
      const heardAt = this.lastHeard.get(id);
      this.detecting.add(id);
      void this.propose((ring) => {
        // Re-check against the freshest ring: another member may have acted, or the node spoke up.
        if (!ring.node(id) || this.lastHeard.get(id) !== heardAt) return undefined;
        if (change.update && ring.node(id)!.status === 'suspected') return undefined;
        return change;
      })
        .catch(() => {})
        .finally(() => this.detecting.delete(id));
    }
  }

  /** Serialises this member's changes; each is a compare-and-set retried against the freshest snapshot. */
  private propose(build: (ring: Ring) => ClusterChange | undefined): Promise<void> {
    const run = async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (this.isDegraded) throw new Error('membership backend is unreachable (degraded); try again later');
        const ring = this.ring;
        const change = build(ring);
        if (!change) return;
        const next = ring.with(change);
        const seq = this.seq + 1;
        const members = new Set(this.members);
        for (const id of change.remove ?? []) members.delete(id);
        for (const id of change.join ?? []) members.add(id);
        const message: BusMessage = { kind: 'change', sender: this.instance, seq, change };
        if (await this.backend.commit(seq - 1, this.stateOf(next, seq, members), message)) {
          if (this.seq === seq - 1 && this.current === ring) this.apply(seq, next, change);
          else if (this.seq < seq) await this.requestResync();
          return;
        }
        await this.requestResync();
      }
      throw new Error(`membership change lost ${MAX_ATTEMPTS} races in a row; try again`);
    };
    const result = this.proposals.then(run, run);
    this.proposals = result.catch(() => {});
    return result;
  }

  private stateOf(ring: Ring | undefined, seq: number, members: ReadonlySet<string>): ClusterState {
    return {
      seq,
      nodes: ring ? ring.nodes.map(toSpec) : [],
      pins: ring ? { ...ring.pins } : {},
      members: [...members].sort(),
    };
  }
}

/** Monotonic milliseconds: failure detection must not jump with the wall clock. */
const clock = () => performance.now();

function randomId(): string {
  return globalThis.crypto.randomUUID();
}
