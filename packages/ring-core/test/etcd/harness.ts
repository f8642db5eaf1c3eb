import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../redis/harness.js';

/** Debian's etcd-server package installs it here; ETCD_BIN overrides. */
const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

/**
 * A throwaway single-member etcd on free loopback ports, with its own data directory, that a test may kill -9 and
 * restart on the same ports and data (leases and keys survive, as in production).
 */
export class SpawnedEtcd {
  private process: ChildProcess | undefined;
  private dataDir = '';
  private clientPort = 0;
  private peerPort = 0;
  private output = '';

  /** The client URL (http://127.0.0.1:PORT). */
  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Picks the ports and data directory (so members can be pointed at etcd before it runs); start() does it when not done. */
  async reserve(): Promise<void> {
    if (this.dataDir) return;
    this.dataDir = await mkdtemp(join(tmpdir(), 'ringroute-etcd-'));
    [this.clientPort, this.peerPort] = await Promise.all([freePort(), freePort()]);
  }

  async start(): Promise<void> {
    await this.reserve();
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BIN,
      [
        '--name',
        'default',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.url,
        '--advertise-client-urls',
        this.url,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `default=${peer}`,
        // Single member on loopback: elect itself fast after a restart.
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '250',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.process = child;
    this.output = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output = (this.output + chunk).slice(-4000);
    });
    const spawnFailed = new Promise<never>((_, reject) =>
      child.once('error', (error) =>
        reject(new Error(`these tests need etcd (${ETCD_BIN}, Debian package etcd-server): ${error.message}`)),
      ),
    );
    await Promise.race([this.waitHealthy(child), spawnFailed]);
  }

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its data. */
  async destroy(): Promise<void> {
    await this.kill();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  private async waitHealthy(child: ChildProcess): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${this.output}`);
      try {
        const response = await fetch(`${this.url}/health`);
        if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      if (attempt > 200) throw new Error(`etcd did not become healthy at ${this.url}: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
