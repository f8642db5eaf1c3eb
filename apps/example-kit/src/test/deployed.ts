import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { startRoundRobin, type RoundRobin } from '../../../../packages/hocuspocus/test/support/haproxy.js';
import { freePort } from '../launch.js';

/** What a node reports in `GET /api/routes/stats` that the scenarios wait on. */
export interface NodeStats {
  self: string;
  checksum: string;
  nodes: { id: string; status: string }[];
  handoff?: {
    settled: boolean;
    done: number;
    failed: number;
    received: number;
    pulled: number;
    dropped: number;
    startedEmpty: number;
    loaded: number;
    held: Record<string, number>;
  };
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One node of an example, deployed as in deploy/: its own process with NODE_ID, NODE_URL and REDIS_URL. */
export class NodeProcess {
  child: ChildProcess | undefined;
  /** The process's last output lines (shown when a scenario fails). */
  readonly output: string[] = [];

  constructor(
    readonly id: string,
    readonly port: number,
    private readonly appDir: URL,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once the node has joined (its /ready answers 200). */
  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: this.appDir,
      env: { ...process.env, ...this.env, NODE_ID: this.id, PORT: String(this.port), NODE_URL: this.url, HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (line: string) => {
      this.output.push(line);
      if (this.output.length > 200) this.output.shift();
    };
    createInterface({ input: child.stdout! }).on('line', keep);
    createInterface({ input: child.stderr! }).on('line', keep);
    await until(async () => {
      if (!this.running) throw new Error(`${this.id} exited while starting:\n${this.output.join('\n')}`);
      return (await this.get('/ready').catch(() => undefined))?.status === 200;
    }, `${this.id} ready`);
  }

  /** SIGTERM, as Kubernetes stops a pod: the node hands its keys over and leaves; resolves when it exited. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child!, 'exit');
    this.child!.kill('SIGTERM');
    await exited;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child!, 'exit');
    this.child!.kill('SIGKILL');
    await exited;
  }

  get(path: string): Promise<Response> {
    return fetch(this.url + path, { signal: AbortSignal.timeout(2000) });
  }

  async stats(): Promise<NodeStats | undefined> {
    try {
      const res = await this.get('/api/routes/stats');
      return res.ok ? ((await res.json()) as NodeStats) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** An example deployed one node per process behind an HAProxy round robin, with a Redis membership. */
export class DeployedCluster {
  readonly nodes = new Map<string, NodeProcess>();
  private proxy: RoundRobin | undefined;

  constructor(
    private readonly appDir: URL,
    private readonly env: Record<string, string>,
  ) {}

  /** Reserves the ports of `ids` (the balancer lists them all from the start) and starts HAProxy. */
  async prepare(ids: string[]): Promise<void> {
    for (const id of ids) this.nodes.set(id, new NodeProcess(id, await freePort(), this.appDir, this.env));
    this.proxy = await startRoundRobin([...this.nodes.values()].map((n) => n.port));
  }

  /** The balancer's URL: what clients use. */
  get url(): string {
    return `http://127.0.0.1:${this.proxy!.port}`;
  }

  node(id: string): NodeProcess {
    return this.nodes.get(id)!;
  }

  get running(): NodeProcess[] {
    return [...this.nodes.values()].filter((n) => n.running);
  }

  /**
   * Resolves once every running node has the same ring, with exactly `members` (all alive), and has handed over
   * everything that ring gives away.
   */
  async converged(members: string[], timeout = 30_000): Promise<NodeStats[]> {
    let stats: (NodeStats | undefined)[] = [];
    const want = [...members].sort().join();
    await until(
      async () => {
        stats = await Promise.all(this.running.map((n) => n.stats()));
        return stats.every(
          (s) =>
            s !== undefined &&
            s.checksum === stats[0]!.checksum &&
            s.nodes
              .map((n) => n.id)
              .sort()
              .join() === want &&
            s.nodes.every((n) => n.status === 'alive') &&
            s.handoff?.settled === true,
        );
      },
      `the ring [${want}] on every running node, settled`,
      timeout,
    );
    return stats as NodeStats[];
  }

  /** Resolves once the running nodes other than `id` no longer list it (declared failed). */
  async removed(id: string, timeout = 30_000): Promise<void> {
    await until(
      async () => {
        const stats = await Promise.all(this.running.filter((n) => n.id !== id).map((n) => n.stats()));
        return stats.every((s) => s !== undefined && !s.nodes.some((n) => n.id === id));
      },
      `${id} removed by the others`,
      timeout,
    );
  }

  /** Sum of a handoff counter over the running nodes. */
  async total(counter: 'done' | 'received' | 'pulled' | 'dropped' | 'startedEmpty' | 'loaded' | 'failed'): Promise<number> {
    const stats = await Promise.all(this.running.map((n) => n.stats()));
    return stats.reduce((sum, s) => sum + (s?.handoff?.[counter] ?? 0), 0);
  }

  /** The last output of every node (for a failing scenario's message). */
  logs(): string {
    return [...this.nodes.values()].map((n) => `--- ${n.id}\n${n.output.slice(-30).join('\n')}`).join('\n');
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) {
      if (node.child?.signalCode === 'SIGSTOP') node.signal('SIGCONT');
      await node.kill();
    }
    await this.proxy?.stop();
  }
}
