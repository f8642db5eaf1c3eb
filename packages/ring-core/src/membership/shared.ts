import { checkString, fail } from '../errors.js';
import { TypedEmitter } from '../events/emitter.js';
import { resolveRingParams } from '../ring/params.js';
import { createRing } from '../ring/ring.js';
import { resolveNode, toSpec } from '../ring/nodes.js';
import type { NodeSpec, Ring } from '../types.js';
import { ClusterView, diffRings } from './apply.js';
import type { BackendHooks, BusMessage, ClusterChange, MembershipBackend } from './backend.js';
import { FailureDetector, type FailureDetection } from './detector.js';
import { isDrained, joinChange, refuteChange } from './refute.js';
import { retryDelay, retryUntilStopped } from './retry.js';
import { loadSnapshot } from './snapshot.js';
import {
  DROP_REASONS,
  type DropReason,
  type LeaveReason,
  type Membership,
  type MembershipEvents,
  type MembershipLogger,
  type MembershipStats,
  type MessageSigner,
  type RingParams,
} from './types.js';

export type { FailureDetection } from './detector.js';

export interface SharedMembershipOptions extends RingParams {
  self?: NodeSpec | undefined;
  /** Omitted in one process, where a member can only leave through stop(). */
  detection?: FailureDetection | undefined;
  /** Where a refused snapshot (and its rebuild) is reported. */
  logger?: Pick<MembershipLogger, 'error'> | undefined;
  /** Signs node-to-node transfers with the cluster secret (the store's codec). */
  signer?: MessageSigner | undefined;
}

/** Compare-and-set races a proposal may lose before giving up (each loss means someone else's change landed). */
const MAX_ATTEMPTS = 20;

type Phase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The membership protocol shared by MemoryMembership and RedisMembership: members agree on a snapshot with a
 * sequence number; every change is a compare-and-set on that snapshot plus an ordered delta, so all members apply
 * the same changes in the same order and converge on the same checksum. Gaps trigger a reload of the snapshot.
 * A member wrongly removed or suspected refutes it with a higher incarnation (SWIM); only a drain keeps it out.
 */
export class SharedMembership extends TypedEmitter<MembershipEvents> implements Membership {
  readonly self: NodeSpec | undefined;
  readonly signer: MessageSigner | undefined;
  private readonly params: RingParams;
  private readonly detector: FailureDetector | undefined;
  private readonly logger: Pick<MembershipLogger, 'error'> | undefined;
  /** Distinguishes this instance's own echoes on the bus. */
  private readonly instance = globalThis.crypto.randomUUID();
  private current: Ring | undefined;
  private seq = -1;
  private view = new ClusterView();
  /** The incarnation this instance announced for its node: a drain of an older one does not concern it. */
  private incarnation = 0;
  /** Heartbeats this instance has sent: each carries the next number, so readers can refuse a replayed one. */
  private beats = 0;
  private phase: Phase = 'idle';
  private started: Promise<void> | undefined;
  /** Aborted by stop(): a start still waiting for its store gives up at once. */
  private readonly halt = new AbortController();
  private waitingFor: string | undefined;
  private isDegraded = false;
  /** An operator drained this node: it stays out until restarted. */
  private evicted = false;
  private proposals: Promise<unknown> = Promise.resolve();
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private readonly detecting = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private tickPeriod = 0;
  private lastTick = 0;
  private lastSync = 0;
  private lastBeat = 0;
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
    this.detector = options.detection && new FailureDetector(options.detection, (reason, detail) => this.drop(reason, detail));
    this.logger = options.logger;
    this.signer = options.signer;
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

  get waiting(): string | undefined {
    return this.waitingFor;
  }

  /** The snapshot's generation plus its seq: every member computes the same token for the same ring. */
  get token(): number {
    return this.view.generation + Math.max(0, this.seq);
  }

  get failureTimeout(): number | undefined {
    return this.detector?.detection.failureTimeout;
  }

  /** Counted in `stats().listenerErrors` and logged: a listener never breaks membership processing. */
  protected override onListenerError(error: unknown, event: keyof MembershipEvents): void {
    this.counters.listenerErrors++;
    if (this.logger) this.logger.error({ err: error, event }, `ringroute: a '${String(event)}' membership listener threw`);
    else super.onListenerError(error, event);
  }

  start(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return Promise.reject(new Error('membership was stopped; create a new one'));
    this.started ??= this.join();
    return this.started;
  }

  /**
   * Opens the backend, loads the snapshot and joins, retrying the whole start (backend closed and opened again) with a
   * capped backoff until it succeeds: a member started while its store is away joins once the store answers.
   */
  private async join(): Promise<void> {
    this.phase = 'starting';
    this.waitingFor = `waiting for ${this.backend.store}`;
    const self = this.self;
    try {
      await retryUntilStopped(
        async () => {
          await this.backend.open(this.hooks);
          await this.requestResync();
          if (self) await this.propose((ring) => joinChange(ring, this.view, self));
        },
        {
          cap: retryDelay(this.detector?.detection),
          signal: this.halt.signal,
          failed: async (error) => {
            this.wait(error);
            await this.backend.close().catch(() => {});
          },
        },
      );
    } catch (error) {
      this.phase = 'stopped';
      await this.backend.close().catch(() => {});
      throw error;
    }
    this.waitingFor = undefined;
    this.phase = 'running';
    const detection = this.detector?.detection;
    if (detection) {
      this.tickPeriod = Math.max(10, Math.min(detection.syncInterval, detection.heartbeatInterval, detection.failureTimeout / 4));
      this.lastTick = clock();
      this.timer = setInterval(() => this.tick(detection), this.tickPeriod);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** Records why the start waits (first line of the store's error), announcing each new reason once. */
  private wait(error: Error): void {
    const reason = `waiting for ${this.backend.store}: ${String(error.message).split('\n')[0]!.trim()}`;
    if (reason === this.waitingFor) return;
    this.waitingFor = reason;
    this.emit('waiting', reason);
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    if (this.phase === 'starting') {
      // A start still waiting for its store gives up at once (it closes the backend); it never joined, so nothing to leave.
      this.halt.abort(new Error(`membership stopped before it joined (${this.waitingFor})`));
      await this.started!.catch(() => {});
      if ((this.phase as Phase) === 'stopped') return;
    }
    this.phase = 'stopping';
    clearInterval(this.timer);
    const self = this.self;
    if (self && !this.evicted && !this.isDegraded && this.current?.node(self.id)) {
      // Graceful leave: one committed change removes the node from every member at once.
      await this.propose((ring) => (ring.node(self.id) ? { remove: [self.id], reason: 'graceful' } : undefined)).catch(() => {});
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

  /** Drains the node: every member removes it, and the node itself (if running) stays out until it restarts. */
  remove(id: string): Promise<void> {
    checkString('id', id);
    return this.propose((ring) => {
      if (!ring.node(id)) fail('id', `unknown node id ${JSON.stringify(id)}`);
      return { remove: [id], reason: 'removed', drain: { [id]: this.view.incarnations.get(id) ?? 0 } };
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

  /**
   * Catches up with the backend now: reads its seq and reloads the snapshot when this member is behind. A process
   * that was paused calls it before acting on its last ring (which may no longer contain it).
   */
  async sync(): Promise<void> {
    if (this.phase !== 'running') return;
    const seq = await this.backend.seq();
    if (seq !== this.seq) await this.requestResync();
  }

  stats(): MembershipStats {
    return {
      ...this.counters,
      dropped: { ...this.dropped },
      members: this.current?.nodes.length ?? 0,
      epoch: this.current?.epoch ?? 0,
      ready: this.ready,
      degraded: this.isDegraded,
      ...(this.waitingFor === undefined ? {} : { waiting: this.waitingFor }),
    };
  }

  private readonly hooks: BackendHooks = {
    message: (message) => {
      this.counters.received++;
      if (message.sender === this.instance) return;
      if (message.kind === 'change') this.onChange(message.seq, message.change);
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
      // Before the first join there is no ring to route on: the start's reason to wait says it all.
      if (this.phase === 'starting') return this.wait(error);
      if (this.isDegraded) return;
      this.isDegraded = true;
      this.counters.outages++;
      this.emit('degraded', error);
    },
    recovered: () => {
      if (!this.isDegraded) return; // never set while starting: the start loads the snapshot itself
      this.isDegraded = false;
      // Nobody could heartbeat through the outage: give every member a full timeout before suspecting anyone.
      if (this.detector) this.detector.grace(clock() + this.detector.detection.failureTimeout);
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

  private apply(seq: number, next: Ring, change: ClusterChange): void {
    const previous = this.current;
    this.seq = seq;
    this.counters.applied++;
    this.view.apply(change);
    const selfId = this.self?.id;
    if (selfId !== undefined && change.incarnations?.[selfId] !== undefined)
      this.incarnation = Math.max(this.incarnation, change.incarnations[selfId]);
    this.track();
    for (const id of change.join ?? []) this.detector?.heardNow(id, clock());
    const selfRemoved = selfId !== undefined && change.remove?.includes(selfId);
    if (selfRemoved && this.phase !== 'stopping' && this.isDrained()) this.evicted = true;
    this.publishRing(next, previous, change.reason ?? 'removed');
    if (selfRemoved || change.update?.some((u) => u.id === selfId)) this.heal();
  }

  private isDrained(): boolean {
    return isDrained(this.view, this.self, this.incarnation);
  }

  private track(): void {
    this.detector?.track(this.view.members, this.self?.id ?? this.instance, clock());
  }

  /** Emits 'ring' and then one 'joined' / 'left' / 'status' per node that differs between the two snapshots. */
  private publishRing(next: Ring, previous: Ring | undefined, reason: LeaveReason): void {
    this.current = next;
    this.emit('ring', next, previous);
    const { joined, status, left } = diffRings(previous, next);
    for (const node of joined) this.emit('joined', node);
    for (const [node, from, to] of status) this.emit('status', node, from, to);
    for (const node of left) this.emit('left', node, reason);
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
    const state = await loadSnapshot(this.backend, {
      own: (seq) => this.view.state(this.current, seq),
      seq: this.seq,
      hasRing: this.current !== undefined,
      wait: this.detector?.detection.heartbeatInterval ?? 100,
      logger: this.logger,
    });
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
    this.view = ClusterView.of(state);
    const selfId = this.self?.id;
    if (selfId !== undefined) this.incarnation = Math.max(this.incarnation, this.view.incarnations.get(selfId) ?? 0);
    if (selfId !== undefined && !next.node(selfId) && this.phase === 'running' && this.isDrained()) this.evicted = true;
    this.track();
    if (previous && previous.checksum === next.checksum) {
      this.current = next;
      return;
    }
    this.publishRing(next, previous, 'resync');
    this.heal();
  }

  /** Keeps this node in the ring: refutes a removal or suspicion it did not ask for with a higher incarnation. */
  private heal(): void {
    const self = this.self;
    if (!self || this.evicted || this.phase !== 'running' || this.isDegraded) return;
    void this.propose((ring) => {
      if (this.isDrained()) {
        this.evicted = true;
        return undefined;
      }
      return refuteChange(ring, this.view, self, this.incarnation, this.detector !== undefined);
    }).catch(() => {});
  }

  private tick({ syncInterval, heartbeatInterval }: FailureDetection): void {
    const detector = this.detector!;
    const now = clock();
    // A late tick means this process stalled (GC, CPU starvation): silence measured across the stall says nothing
    // about the others. Measure it from now instead.
    if (now - this.lastTick > 2 * this.tickPeriod) detector.grace(now);
    this.lastTick = now;
    if (this.phase !== 'running' || this.isDegraded || !this.current) return;
    // Half a tick of slack: a timer firing a hair early must not skip a whole interval.
    if (now - this.lastBeat >= heartbeatInterval - this.tickPeriod / 2) {
      this.lastBeat = now;
      this.beat(detector);
    }
    if (now - this.lastSync >= syncInterval - this.tickPeriod / 2) {
      this.lastSync = now;
      this.checkSeq();
    }
    for (const verdict of detector.verdicts(this.current, now)) {
      const { id, change, heardAt } = verdict;
      if (this.detecting.has(id)) continue;
      const accused = this.view.incarnations.get(id);
      this.detecting.add(id);
      void this.propose((ring) => {
        // Re-check against the freshest ring: another member may have acted, the node spoke up or refuted.
        if (!ring.node(id) || detector.heardSince(id, heardAt) || this.view.incarnations.get(id) !== accused) return undefined;
        if (change.update && ring.node(id)!.status === 'suspected') return undefined;
        return change;
      })
        .catch(() => {})
        .finally(() => this.detecting.delete(id));
    }
  }

  /** One heartbeat's backend work, constant whatever the cluster's size: a beat and one read of the watched. */
  private beat(detector: FailureDetector): void {
    const { self } = this;
    if (self && !this.evicted) {
      this.counters.heartbeatsSent++;
      const heartbeat = { sender: this.instance, node: self.id, seq: this.seq, beat: ++this.beats, sentAt: Date.now() };
      this.backend.beat(heartbeat, detector.detection.failureTimeout).catch(() => {});
    }
    const nodes = detector.watching;
    this.backend
      .heartbeats(nodes)
      .then((records) => {
        const { fresh, seq } = detector.read(nodes, records, clock());
        this.counters.heartbeatsReceived += fresh;
        if (seq > this.seq) return this.requestResync();
      })
      .catch(() => {});
  }

  /** The cheap periodic check that heals missed changes: the snapshot's seq. */
  private checkSeq(): void {
    this.backend
      .seq()
      .then((seq) => {
        if (seq !== this.seq) return this.requestResync();
      })
      .catch(() => {});
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
        const state = this.view.clone().apply(change).state(next, seq);
        const message: BusMessage = { kind: 'change', sender: this.instance, seq, change };
        if (await this.backend.commit(seq - 1, state, message)) {
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
}

/** Monotonic milliseconds: failure detection must not jump with the wall clock. */
const clock = () => performance.now();
