import { StateTooLargeError } from './errors.js';
import type { Space } from './space.js';
import type { StateCodec } from './types.js';

/** What a named state needs from the engine. */
export interface Access {
  readonly maxValueBytes: number;
  /** Runs `operation` while this node has custody of the key (pulling it first if a previous owner may hold it). */
  access<R>(space: Space, key: string, operation: () => R | Promise<R>): Promise<R>;
  /** Makes a change durable (with `persist`; `'through'` waits for the store). Throws when this node lost the key. */
  write(space: Space, key: string, value: Uint8Array | null): Promise<void>;
}

/**
 * Per-key state kept in the owner's memory that follows the key when the ring moves it
 * (`app.ringRoute.state<Cart>('carts')`). Values are kept encoded, so what a request reads is exactly what a move
 * carries (JSON by default). Every method waits while the key is on its way here, and rejects with
 * StateUnavailableError (503) when another node owns the key.
 */
export class KeyedState<T> {
  constructor(
    private readonly engine: Access,
    private readonly space: Space,
    private readonly codec: StateCodec<T>,
  ) {}

  /** The state's name. */
  get name(): string {
    return this.space.name;
  }

  /** Keys held on this node now. */
  get size(): number {
    return this.space.size;
  }

  get(key: string): Promise<T | undefined> {
    return this.engine.access(this.space, key, () => this.read(key));
  }

  async set(key: string, value: T): Promise<void> {
    const bytes = this.encode(key, value);
    await this.engine.access(this.space, key, () => this.store(key, bytes));
  }

  /**
   * Reads, changes and stores a key in one step (no other operation on the key runs in between). `change` gets the
   * current value (undefined when there is none); returning undefined deletes the key.
   */
  update(key: string, change: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
    return this.engine.access(this.space, key, async () => {
      const next = await change(this.read(key));
      await this.store(key, next === undefined ? null : this.encode(key, next));
      return next;
    });
  }

  /** Resolves true when the key had a value. */
  delete(key: string): Promise<boolean> {
    return this.engine.access(this.space, key, async () => {
      const had = this.space.map!.has(key);
      if (had) await this.store(key, null);
      return had;
    });
  }

  private read(key: string): T | undefined {
    const bytes = this.space.map!.get(key);
    return bytes === undefined ? undefined : this.codec.decode(bytes);
  }

  private encode(key: string, value: T): Uint8Array {
    const bytes = this.codec.encode(value);
    if (bytes.byteLength > this.engine.maxValueBytes) throw new StateTooLargeError(key, bytes.byteLength, this.engine.maxValueBytes);
    return bytes;
  }

  /** The durable copy first: a write the store refused never shows in memory. */
  private async store(key: string, bytes: Uint8Array | null): Promise<void> {
    await this.engine.write(this.space, key, bytes);
    if (bytes === null) this.space.map!.delete(key);
    else this.space.map!.set(key, bytes);
  }
}

/**
 * An app's own store under RingRoute's custody (`app.ringRoute.adopt('buckets', port)`): `use(key, fn)` runs `fn`
 * while this node has custody of the key, so the app reads and writes its store as before and the key moves with
 * the ring. With `persist`, the key is exported and stored after each `use`.
 */
export class AdoptedState {
  constructor(
    private readonly engine: Access,
    private readonly space: Space,
    private readonly persisting: boolean,
  ) {}

  get name(): string {
    return this.space.name;
  }

  use<R>(key: string, operation: () => R | Promise<R>): Promise<R> {
    return this.engine.access(this.space, key, async () => {
      const result = await operation();
      this.space.touched(key);
      if (this.persisting) {
        const bytes = (await this.space.export(key)) ?? null;
        if (bytes !== null && bytes.byteLength > this.engine.maxValueBytes)
          throw new StateTooLargeError(key, bytes.byteLength, this.engine.maxValueBytes);
        await this.engine.write(this.space, key, bytes);
      }
      return result;
    });
  }
}
