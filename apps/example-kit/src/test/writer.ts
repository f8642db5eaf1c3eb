/** What the writer saw: items acknowledged (201) per cart, and every answer by status (0: no answer). */
export interface Tally {
  acknowledged: number;
  statuses: Record<string, number>;
}

/**
 * A client adding items to carts through the load balancer for as long as it runs, each item a unique sku. An item
 * counts as acknowledged only when its POST answered 201: afterwards it must be in its cart, read through any node.
 */
export class CartWriter {
  readonly acknowledged = new Map<string, Set<string>>();
  private readonly statuses = new Map<number, number>();
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;

  constructor(
    private readonly url: string,
    readonly carts: string[],
    private readonly concurrency = 8,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  async stop(): Promise<Tally> {
    this.running = false;
    await Promise.all(this.loops);
    return this.tally();
  }

  tally(): Tally {
    let acknowledged = 0;
    for (const items of this.acknowledged.values()) acknowledged += items.size;
    return { acknowledged, statuses: Object.fromEntries(this.statuses) };
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const cart = this.carts[this.next % this.carts.length]!;
      const sku = `i-${this.next++}`;
      let status = 0;
      try {
        const res = await fetch(`${this.url}/carts/${cart}/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sku, qty: 1 }),
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        // no answer: not acknowledged
      }
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      if (status === 201) {
        let items = this.acknowledged.get(cart);
        if (!items) this.acknowledged.set(cart, (items = new Set()));
        items.add(sku);
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Acknowledged items missing from their cart as `read` returns it (sku lists), per cart. */
export async function missingItems(
  writer: CartWriter,
  read: (cart: string) => Promise<string[]>,
): Promise<{ missing: number; cartsWithLoss: string[] }> {
  let missing = 0;
  const cartsWithLoss: string[] = [];
  for (const cart of writer.carts) {
    const present = new Set(await read(cart));
    const lost = [...(writer.acknowledged.get(cart) ?? [])].filter((sku) => !present.has(sku));
    missing += lost.length;
    if (lost.length > 0) cartsWithLoss.push(cart);
  }
  return { missing, cartsWithLoss };
}
