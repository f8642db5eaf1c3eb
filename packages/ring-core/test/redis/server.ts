import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

// Plain Node (no vitest): the benchmarks start their Redis with these too.

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails loudly when the Redis the tests need is missing. */
export async function requireRedis(url = REDIS_URL): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
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

/** A throwaway redis-server (no persistence) that a test may kill and restart on the same port. */
export class SpawnedRedis {
  private process: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    this.process = child;
    for (let attempt = 0; ; attempt++) {
      try {
        (await requireRedis(this.url)).disconnect();
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
