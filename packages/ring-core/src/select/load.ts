/** In-flight requests per node id, for bounded-load selection. */
export class LoadTracker {
  private readonly counts = new Map<string, number>();
  private sum = 0;

  /** In-flight requests across all nodes. */
  get total(): number {
    return this.sum;
  }

  get(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  acquire(id: string): void {
    this.counts.set(id, this.get(id) + 1);
    this.sum++;
  }

  /** Releasing a node with nothing in flight is a no-op, so a double release cannot drive a count negative. */
  release(id: string): void {
    const count = this.get(id);
    if (count === 0) return;
    if (count === 1) this.counts.delete(id);
    else this.counts.set(id, count - 1);
    this.sum--;
  }

  /** Counts per node id (nodes with nothing in flight are absent). */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
