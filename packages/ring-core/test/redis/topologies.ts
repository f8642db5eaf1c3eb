/**
 * Redis deployments that tests start on free loopback ports and stop by pid: a 6-node Redis Cluster (3 masters,
 * 3 replicas) and a master + replica watched by 3 redis-sentinel processes. Both can kill -9 the master holding a
 * key and restart it. Start each once per test file; missing binaries fail loudly.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, requireRedis } from './server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One redis-server (or redis-sentinel) process that can be killed and restarted with the same arguments. */
class ServerProcess {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    const child = spawn(this.command, this.args, { stdio: 'ignore' });
    this.child = child;
    let failed: Error | undefined;
    child.once('error', (error) => (failed = new Error(`cannot start ${this.command} (is it installed?): ${error.message}`)));
    for (let attempt = 0; ; attempt++) {
      try {
        (await requireRedis(`redis://127.0.0.1:${this.port}`)).disconnect();
        return;
      } catch (error) {
        if (failed) throw failed;
        if (attempt > 100 || child.exitCode !== null) throw error;
        await sleep(50);
      }
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** One directory per server: replicas' full syncs go through dump.rdb files that must not be shared. */
function redisArgs(port: number, root: string): string[] {
  const dir = join(root, String(port));
  mkdirSync(dir, { recursive: true });
  return ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
}

/** Polls until the check passes (or throws after timeoutMs). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** `redis-cli -p port args...`, trimmed stdout. */
async function cli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
}

/** The port of a `CLUSTER NODES` line split on spaces (`ip:port@bus`). */
const portOf = (line: string[]) => Number(line[1]!.split(':')[1]!.split('@')[0]);

/** A 6-node Redis Cluster with 1 replica per master and quick failover (cluster-node-timeout 1000 ms). */
export class RedisClusterProcesses {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ringroute-cluster-'));
  private servers: ServerProcess[] = [];

  /** Startup nodes for ioredis `new Cluster(nodes)`. */
  get nodes(): { host: string; port: number }[] {
    return this.servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** Picks the ports (so members can be pointed at the cluster before it runs); start() does it when not done. */
  async reserve(): Promise<void> {
    if (this.servers.length > 0) return;
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    this.servers = ports.map(
      (port) =>
        new ServerProcess(port, 'redis-server', [
          ...redisArgs(port, this.dir),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '1000',
          '--cluster-replica-validity-factor',
          '0',
          '--cluster-require-full-coverage',
          'no',
        ]),
    );
  }

  async start(): Promise<void> {
    await this.reserve();
    await Promise.all(this.servers.map((s) => s.start()));
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    await this.healthy();
  }

  /** Every running node reports cluster_state:ok, and every replica has completed its sync (a failover promotes it). */
  async healthy(): Promise<void> {
    await until(async () => {
      for (const server of this.servers.filter((s) => s.running)) {
        if (!(await cli(server.port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        const replication = await cli(server.port, 'info', 'replication');
        if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
      }
      return true;
    }, 'cluster_state:ok and replicas in sync');
  }

  /** The port of the master currently serving `key`'s slot, asked of a running node. */
  async masterOf(key: string): Promise<number> {
    const server = this.servers.find((s) => s.running)!;
    const slot = Number(await cli(server.port, 'cluster', 'keyslot', key));
    for (const line of (await cli(server.port, 'cluster', 'nodes')).split('\n')) {
      const [, address, flags, , , , , state, ...ranges] = line.split(' ');
      if (!flags!.includes('master') || flags!.includes('fail') || state !== 'connected') continue;
      for (const range of ranges) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from! && slot <= to!) return Number(address!.split(':')[1]!.split('@')[0]);
      }
    }
    throw new Error(`no master serves ${key}`);
  }

  /** kill -9 of the master serving `key`; returns its port. */
  async killMasterOf(key: string): Promise<number> {
    const port = await this.masterOf(key);
    await this.servers.find((s) => s.port === port)!.kill();
    return port;
  }

  /** Resolves once a replica has taken over `key`'s slot from `port`. */
  async failedOver(key: string, port: number): Promise<void> {
    await until(async () => (await this.masterOf(key)) !== port, `failover of ${key} away from ${port}`);
  }

  /**
   * A planned failover (CLUSTER FAILOVER on its replica) of the master serving `key`; resolves once the replica took
   * over. After an outage, replica migration may have left that master without a replica: one is moved to it first.
   */
  async failOver(key: string): Promise<void> {
    await this.healthy();
    const port = await this.masterOf(key);
    const nodes = (await cli(port, 'cluster', 'nodes')).split('\n').map((line) => line.split(' '));
    const id = nodes.find(([, , flags]) => flags!.includes('myself'))![0]!;
    const replicas = nodes.filter(([, , flags]) => flags!.includes('slave'));
    let replica = replicas.find(([, , , master]) => master === id);
    if (!replica) {
      replica = replicas.find(([, , , master]) => replicas.filter((r) => r[3] === master).length > 1)!;
      await cli(portOf(replica), 'cluster', 'replicate', id);
      await until(
        async () => (await cli(portOf(replica!), 'info', 'replication')).includes(`master_port:${port}`),
        `a replica for ${port}`,
      );
      await this.healthy();
    }
    await cli(portOf(replica), 'cluster', 'failover');
    await this.failedOver(key, port);
  }

  /** Restarts a killed node; it rejoins as a replica (`healthy()` waits for that). */
  async restart(port: number): Promise<void> {
    await this.servers.find((s) => s.port === port)!.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A master, one replica and 3 redis-sentinel processes (quorum 2, down-after-milliseconds 1000). */
export class SentinelProcesses {
  readonly name = 'ringroute-test';
  private readonly dir = mkdtempSync(join(tmpdir(), 'ringroute-sentinel-'));
  private redis: ServerProcess[] = [];
  private sentinelProcesses: ServerProcess[] = [];

  /** ioredis options: `{ sentinels, name }`. */
  get options(): { sentinels: { host: string; port: number }[]; name: string } {
    return { sentinels: this.sentinelProcesses.map((s) => ({ host: '127.0.0.1', port: s.port })), name: this.name };
  }

  /** Picks the ports (so members can be pointed at the sentinels before they run); start() does it when not done. */
  async reserve(): Promise<void> {
    if (this.redis.length > 0) return;
    const [master, replica, ...sentinels] = await Promise.all(Array.from({ length: 5 }, freePort));
    this.redis = [
      new ServerProcess(master!, 'redis-server', redisArgs(master!, this.dir)),
      new ServerProcess(replica!, 'redis-server', [...redisArgs(replica!, this.dir), '--replicaof', '127.0.0.1', String(master)]),
    ];
    this.sentinelProcesses = sentinels.map((port) => {
      const file = join(this.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.dir}`,
          `sentinel monitor ${this.name} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${this.name} 1000`,
          `sentinel failover-timeout ${this.name} 2000`,
          `sentinel parallel-syncs ${this.name} 1`,
          '',
        ].join('\n'),
      );
      return new ServerProcess(port, 'redis-sentinel', [file]);
    });
  }

  async start(): Promise<void> {
    await this.reserve();
    await Promise.all(this.redis.map((s) => s.start()));
    await Promise.all(this.sentinelProcesses.map((s) => s.start()));
    await this.healthy();
  }

  /** The port of the master the sentinels agree on. */
  async masterPort(): Promise<number> {
    const [, port] = (await cli(this.sentinelProcesses[0]!.port, 'sentinel', 'get-master-addr-by-name', this.name)).split('\n');
    return Number(port);
  }

  /** Every sentinel knows the master, the replica and the 2 other sentinels; the replica is in sync. */
  async healthy(): Promise<void> {
    await until(async () => {
      for (const sentinel of this.sentinelProcesses) {
        const info = await cli(sentinel.port, 'info', 'sentinel');
        if (!/status=ok,address=[^,]+,slaves=1,sentinels=3/.test(info)) return false;
      }
      const replication = await cli(await this.masterPort(), 'info', 'replication');
      return replication.includes('role:master') && /slave0:.*state=online/.test(replication);
    }, 'sentinels watching a master with an online replica');
  }

  /** kill -9 of the current master; returns its port. */
  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    await this.redis.find((s) => s.port === port)!.kill();
    return port;
  }

  /** Resolves once the sentinels have promoted another master. */
  async failedOver(port: number): Promise<void> {
    await until(async () => (await this.masterPort()) !== port, `failover away from ${port}`);
  }

  /** Restarts a killed server; the sentinels turn it into a replica of the new master (`healthy()` waits for that). */
  async restart(port: number): Promise<void> {
    await this.redis.find((s) => s.port === port)!.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinelProcesses, ...this.redis].map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
