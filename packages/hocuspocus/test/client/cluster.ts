import { ADMIN_TOKEN, documentOwnedBy, startNode, type TestNode } from '../support/node.js';
import { freePort, until } from '../support/ports.js';
import { REDIS_URL } from '../support/redis.js';

/**
 * SmartRoute nodes (the tests' nodes: real Hocuspocus servers, Redis membership, PostgreSQL persistence) on
 * one Redis namespace and one table, every node seeing the others before `start`/`add` resolve.
 */
export class Cluster {
  readonly nodes = new Map<string, TestNode>();
  private constructor(
    readonly table: string,
    private readonly cluster: string,
  ) {}

  static async start(ids: string[], table: string, cluster: string): Promise<Cluster> {
    const started = new Cluster(table, cluster);
    for (const id of ids) await started.add(id);
    return started;
  }

  async add(id: string): Promise<TestNode> {
    const node = await startNode(id, await freePort(), this.table, {
      redis: REDIS_URL,
      cluster: this.cluster,
      syncInterval: 200,
      migrationTimeout: 3000,
    });
    this.nodes.set(id, node);
    await until(
      () => [...this.nodes.values()].every((n) => n.smartRoute.ring?.nodes.length === this.nodes.size),
      `every node to see ${id}`,
    );
    return node;
  }

  node(id: string): TestNode {
    return this.nodes.get(id)!;
  }

  private get any(): TestNode {
    return this.nodes.values().next().value!;
  }

  /** The owner of a document by the cluster's ring. */
  owner(name: string): TestNode {
    return this.node(this.any.smartRoute.ring!.owner(name)!.id);
  }

  documentOwnedBy(id: string, prefix: string): string {
    return documentOwnedBy(this.any.smartRoute, id, prefix);
  }

  async migrate(via: TestNode, documentId: string, targetNodeId: string): Promise<Response> {
    return fetch(`${via.http}/api/routes/migrate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documentId, targetNodeId }),
    });
  }

  /** Graceful leave: the node hands its documents over, then stops. */
  async remove(id: string): Promise<void> {
    const node = this.node(id);
    this.nodes.delete(id);
    await node.stop();
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.stop()));
  }
}
