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

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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

  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
