import type { NodeProcess } from './cluster.js';

/**
 * Which live, running node has which document loaded, sampled about every 100 ms (over IPC: one consistent answer
 * per node): two nodes holding the same document at once are duplicate owners. A paused node is not asked (it
 * serves nobody), and the answer of a node that was paused or resumed meanwhile is dropped.
 */
export class OwnerWatch {
  maxOverlap = 0;
  worst = '';
  samples = 0;
  /** The most documents seen loaded in one sample (the watch sees them at all). */
  seen = 0;
  private readonly since = new Map<string, number>();
  private readonly paused = new Set<string>();
  private readonly gone = new Set<string>();
  private readonly changes = new Map<string, number>();
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly nodes: () => NodeProcess[],
    private readonly documentNames: readonly string[],
  ) {
    this.done = this.loop();
  }

  pause(node: NodeProcess): void {
    this.paused.add(node.id);
    this.changes.set(node.id, (this.changes.get(node.id) ?? 0) + 1);
    node.pause();
  }

  resume(node: NodeProcess): void {
    node.resume();
    this.paused.delete(node.id);
    this.changes.set(node.id, (this.changes.get(node.id) ?? 0) + 1);
  }

  /** A node about to be killed: whatever it holds serves nobody from now on. */
  killing(node: NodeProcess): void {
    this.gone.add(node.id);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const at = Date.now();
      const holders = new Map<string, string[]>();
      const asked = this.nodes().filter((node) => !this.paused.has(node.id) && !this.gone.has(node.id));
      await Promise.all(
        asked.map(async (node) => {
          const before = this.changes.get(node.id) ?? 0;
          const names = await node.documents();
          if (!names || (this.changes.get(node.id) ?? 0) !== before || this.paused.has(node.id) || this.gone.has(node.id)) return;
          for (const name of names) holders.set(name, [...(holders.get(name) ?? []), node.id]);
        }),
      );
      this.samples++;
      this.seen = Math.max(this.seen, holders.size);
      const now = Date.now();
      for (const name of this.documentNames) {
        const nodes = holders.get(name) ?? [];
        if (nodes.length <= 1) {
          this.since.delete(name);
          continue;
        }
        if (!this.since.has(name)) this.since.set(name, at);
        const overlap = now - this.since.get(name)!;
        if (overlap > this.maxOverlap) {
          this.maxOverlap = overlap;
          this.worst = `${name} on ${nodes.join(' + ')}`;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
