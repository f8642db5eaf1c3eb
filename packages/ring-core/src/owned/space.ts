import { KeyGate } from './gate.js';
import type { StatePort } from './types.js';

/** The built-in store of `state<T>(name)`: each key's encoded value, in memory. */
function mapPort(map: Map<string, Uint8Array>): StatePort {
  return {
    export: (key) => map.get(key),
    import: (key, value) => void map.set(key, value),
    delete: (key) => void map.delete(key),
    keys: () => map.keys(),
  };
}

/**
 * One named state on this node: its store (the built-in map or an app's port) and what custody needs to know
 * about its keys: which it holds, which it has taken custody of without any state, and one gate per key.
 */
export class Space {
  /** The built-in store's values (undefined for an app's port). */
  readonly map: Map<string, Uint8Array> | undefined;
  readonly port: StatePort;
  /** An app's port: the keys it may hold (its own writes happen inside `use`, so this follows them). */
  private readonly known: Set<string> | undefined;
  /** Keys in this node's custody that have no state (nobody held them; with `persist`, claimed empty). */
  readonly empty = new Set<string>();
  readonly gate = new KeyGate();

  constructor(
    readonly name: string,
    port: StatePort | undefined,
  ) {
    if (port) {
      this.port = port;
      this.known = new Set();
    } else {
      this.map = new Map();
      this.port = mapPort(this.map);
    }
  }

  held(key: string): boolean {
    return this.map ? this.map.has(key) : this.known!.has(key);
  }

  /** Whether this node has taken custody of the key (it holds it, or knows nobody does). */
  established(key: string): boolean {
    return this.held(key) || this.empty.has(key);
  }

  /** An app's port may have created the key during a `use`. */
  touched(key: string): void {
    this.known?.add(key);
  }

  // The built-in store answers at once: a handoff of thousands of keys costs no promise per key there.

  export(key: string): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    return this.map ? this.map.get(key) : Promise.resolve(this.port.export(key));
  }

  import(key: string, value: Uint8Array): void | Promise<void> {
    this.empty.delete(key);
    if (this.map) return void this.map.set(key, value);
    return Promise.resolve(this.port.import(key, value)).then(() => void this.known!.add(key));
  }

  remove(key: string): void | Promise<void> {
    this.empty.delete(key);
    if (this.map) return void this.map.delete(key);
    this.known!.delete(key);
    return Promise.resolve(this.port.delete(key));
  }

  /** Every key held now (an app's port is asked, which also refreshes what this space knows it holds). */
  async keys(): Promise<string[]> {
    if (this.map) return [...this.map.keys()];
    const keys: string[] = [];
    for await (const key of this.port.keys()) keys.push(key);
    this.known!.clear();
    for (const key of keys) this.known!.add(key);
    return keys;
  }

  get size(): number {
    return this.map ? this.map.size : this.known!.size;
  }
}
