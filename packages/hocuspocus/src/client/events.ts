type Listener = (payload: never) => void;

/** A minimal typed emitter (browser-safe: no node:events). A throwing listener is logged and never breaks routing. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
    return this;
  }

  off<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): this {
    this.listeners.get(event)?.delete(listener as Listener);
    return this;
  }

  /** Calls the listeners of `event`; false when it has none. */
  protected emit<E extends keyof Events>(event: E, payload: Events[E]): boolean {
    const listeners = [...(this.listeners.get(event) ?? [])];
    for (const listener of listeners) {
      try {
        (listener as (payload: Events[E]) => void)(payload);
      } catch (error) {
        console.error(`@ringroute/hocuspocus/client: a '${String(event)}' listener threw`, error);
      }
    }
    return listeners.length > 0;
  }

  protected removeAllListeners(): void {
    this.listeners.clear();
  }
}
