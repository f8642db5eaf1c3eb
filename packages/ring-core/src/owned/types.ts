/** Turns a value into bytes and back. The default is JSON (`JSON.stringify` / `JSON.parse` over UTF-8). */
export interface StateCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/**
 * An app's own per-key store (its Map, an LRU, a rate limiter's buckets), plugged in so that RingRoute moves its keys
 * with the ring. Each method may return a promise.
 */
export interface StatePort {
  /** The key's state as bytes, or undefined when the store has none. */
  export(key: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Takes a key's state handed over by its previous owner (or loaded from `persist`), replacing any it had. */
  import(key: string, value: Uint8Array): void | Promise<void>;
  /** Forgets a key: called once its new owner confirmed it, or when this node lost it. */
  delete(key: string): void | Promise<void>;
  /** Every key the store holds now. */
  keys(): Iterable<string> | AsyncIterable<string>;
}

/** Options of one named state (`state<T>(name, options)`). */
export interface KeyedStateOptions<T> {
  /** How values become bytes for moves and `persist`. Default JSON. */
  codec?: StateCodec<T>;
}

/**
 * Handoff progress (`GET /api/routes/stats` → `handoff`, the `ringroute_handoff_*` metrics). Outgoing counters
 * (`pending`, `moving`, `done`, `failed`, `bytes`) describe what this node hands over; `received` what it took over.
 */
export interface HandoffProgress {
  /** The fencing token of the ring this node acts on. */
  token: number;
  /** Keys waiting for their turn to move (they are served by nobody until their new owner pulls or receives them). */
  pending: number;
  /** Keys being sent now. */
  moving: number;
  /** Keys handed over and confirmed by their new owner (then deleted here). */
  done: number;
  /** Transfer attempts that failed (the keys stay here and are sent again). */
  failed: number;
  /** Bytes of state handed over. */
  bytes: number;
  /** Keys taken over from a previous owner. */
  received: number;
  receivedBytes: number;
  /** Keys a request needed before their previous owner had sent them: pulled first. */
  pulled: number;
  /** Keys this node held but lost (it was declared failed, or a newer owner had them): never written back. */
  dropped: number;
  /** Keys first used here after their previous owner crashed, without `persist`: they started empty. */
  startedEmpty: number;
  /** Keys loaded from the `persist` store by a new owner (a crash successor, or a move that timed out). */
  loaded: number;
  /** Keys held per named state. */
  held: Record<string, number>;
  /** Whether this node has handed over everything its ring gives to others. */
  settled: boolean;
}

/** A key's custody on this node (`GET <prefix>/api/routes/handoff?key=`). */
export type Custody =
  /** This node owns the key by its ring and may serve it (it holds its state, or nobody does). */
  | 'owned'
  /** This node owns the key by its ring, but a previous owner may still hold it: the next request pulls it first. */
  | 'importing'
  /** This node holds the key but its ring gives it to another node: it is queued or being sent there. */
  | 'moving'
  /** Another node owns the key and this node holds nothing of it. */
  | 'elsewhere';

export interface KeyCustody {
  key: string;
  owner: string | undefined;
  custody: Custody;
  /** Bytes held here per named state (only states that hold the key). */
  held: Record<string, number>;
  token: number;
}

export interface MovedEvent {
  state: string;
  key: string;
  to: string;
  bytes: number;
}

export interface ReceivedEvent {
  state: string;
  key: string;
  from: string;
  bytes: number;
}

export interface DroppedEvent {
  state: string;
  key: string;
  reason: 'fenced' | 'conflict';
}

export interface StartedEmptyEvent {
  state: string;
  key: string;
  /** The previous owner that crashed. */
  owner: string;
}

/** Typed events of owned state (`router.owned.on(...)`). */
export interface OwnedStateEvents {
  /** A key was handed over and its new owner confirmed it. */
  moved: (event: MovedEvent) => void;
  /** A key arrived from its previous owner. */
  received: (event: ReceivedEvent) => void;
  /** This node lost a key (declared failed, or another node took it first); its copy was discarded. */
  dropped: (event: DroppedEvent) => void;
  /** A key was first used after its previous owner crashed, without `persist`: its state was lost. */
  'started-empty': (event: StartedEmptyEvent) => void;
  /** This node has handed over every key the ring with this token gives to other nodes. */
  settled: (token: number) => void;
}
