/**
 * Runs the operations on one key one after the other (a read-modify-write that waits for its store write must not
 * interleave with the next one), and lets a handoff wait for the operations already running on a key.
 */
export class KeyGate {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<R>(key: string, operation: () => R | Promise<R>): Promise<R> {
    const previous = this.tails.get(key);
    const result = previous === undefined ? settle(operation) : previous.then(() => operation());
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether an operation on the key is running or waiting. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Keys with an operation running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}

function settle<R>(operation: () => R | Promise<R>): Promise<R> {
  try {
    return Promise.resolve(operation());
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
