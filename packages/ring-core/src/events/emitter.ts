import { reportUnhandled } from './report.js';

type Listener = (...args: never[]) => void;

/** Event name -> listener signature, e.g. `{ joined: (node: RingNode) => void }`. */
export type EventListeners<Events> = { [E in keyof Events]: Listener };

/** The listener signatures of events that each carry one payload: `{ move: MoveEvent }` -> `{ move: (payload: MoveEvent) => void }`. */
export type PayloadListeners<Payloads> = { [E in keyof Payloads]: (payload: Payloads[E]) => void };

/**
 * The project's typed event emitter, for classes to extend. Browser-safe (the root entry runs in browsers, so no
 * node:events). Only the owner emits. A throwing listener never interrupts the owner or the other listeners: its
 * error goes to `onListenerError`, which subclasses override to count or silence it.
 */
export class TypedEmitter<Events extends EventListeners<Events>> {
  // Copy-on-write lists: emitting allocates nothing, and a listener may add or remove listeners while it runs.
  readonly #listeners = new Map<keyof Events, readonly Listener[]>();

  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    if (typeof listener !== 'function') throw new TypeError(`listener for '${String(event)}' must be a function`);
    const listeners = this.#listeners.get(event) ?? [];
    if (!listeners.includes(listener)) this.#listeners.set(event, [...listeners, listener]);
    return this;
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const listeners = this.#listeners.get(event)?.filter((l) => l !== listener);
    if (listeners?.length) this.#listeners.set(event, listeners);
    else this.#listeners.delete(event);
    return this;
  }

  /** How many listeners `event` has: lets a hot path skip building an event nobody listens to. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls the listeners of `event` in the order they were added; false when it has none. */
  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): boolean {
    const listeners = this.#listeners.get(event);
    if (!listeners) return false;
    for (const listener of listeners) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
    return true;
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Where a listener's exception goes (by default a process warning, or `reportError` in a browser). */
  protected onListenerError(error: unknown, event: keyof Events): void {
    reportUnhandled(error, `ringroute: a '${String(event)}' listener threw`);
  }
}
