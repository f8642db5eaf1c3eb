import type { MembershipEvent, MembershipEvents } from './types.js';

type AnyListener = (...args: never[]) => void;

/**
 * A minimal typed event emitter (the root entry must run in browsers, so no node:events).
 * A throwing listener is reported to `onListenerError` and never interrupts membership processing.
 */
export class MembershipEmitter {
  private readonly listeners = new Map<MembershipEvent, Set<AnyListener>>();

  constructor(private readonly onListenerError: (error: unknown, event: MembershipEvent) => void) {}

  on<E extends MembershipEvent>(event: E, listener: MembershipEvents[E]): void {
    if (typeof listener !== 'function') throw new TypeError(`listener for '${event}' must be a function`);
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  off<E extends MembershipEvent>(event: E, listener: MembershipEvents[E]): void {
    this.listeners.get(event)?.delete(listener);
  }

  emit<E extends MembershipEvent>(event: E, ...args: Parameters<MembershipEvents[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}
