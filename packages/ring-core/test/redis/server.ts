import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

// Plain Node (no vitest): the benchmarks start their Redis with these too.

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails loudly when the Redis the tests need is missing. `options`: more ioredis options (e.g. `tls`). */
export async function requireRedis(url = REDIS_URL, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true, ...options });
  redis.on('error', () => {}); // the failure surfaces below, with the URL
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`these tests need a Redis at ${url} (set REDIS_URL): ${(error as Error).message}`);
  }
  return redis;
}

/**
 * A free loopback port P below the system's ephemeral range, with P + 10000 (a Redis Cluster node's bus port) free
 * and below it too. A client that keeps reconnecting to a stopped server on an ephemeral port may be given that very
 * port as its own (a TCP self-connect), which then holds it: the server could not start again there.
 */
export async function freePort(): Promise<number> {
  const below = ephemeralLow() - 10_000;
  for (let attempt = 0; below > 11_000 && attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (below - 10_000));
    if ((await listens(port)) && (await listens(port + 10_000))) return port;
  }
  return listens(0);
}

/** The first port of Linux's ephemeral range (0 where there is no such file). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

/** Listens on `port` (0: any) and closes again; resolves the port, or 0 when it was taken. */
function listens(port: number): Promise<number> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(0));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** PEM files of a TLS Redis: its certificate and key, and the CA that signed them (which clients must trust). */
export interface RedisTls {
  cert: string;
  key: string;
  ca: string;
}

/** A throwaway redis-server (no persistence) that a test may kill and restart on the same port; TLS-only with `tls`. */
export class SpawnedRedis {
  private process: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly tls?: RedisTls,
  ) {}

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { tls } = this;
    const listen = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
      : ['--port', String(this.port)];
    const child = spawn(
      'redis-server',
      [
        ...listen,
        ...(tls ? ['--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : []),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    const options = tls ? { tls: { ca: readFileSync(tls.ca) } } : {};
    for (let attempt = 0; ; attempt++) {
      try {
        (await requireRedis(this.url, options)).disconnect();
        return;
      } catch (error) {
        if (attempt > 100 || child.exitCode !== null) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** SIGSTOP / SIGCONT: the server keeps accepting connections (the kernel does) but answers nothing, as when frozen. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
