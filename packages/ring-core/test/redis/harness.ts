import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { requireRedis } from './server.js';

export { freePort, REDIS_URL, requireRedis, SpawnedRedis } from './server.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/redis-member.ts', import.meta.url));

/** A unique cluster name per test, so tests never see each other's members. */
const uniqueCluster = (name: string) => `test-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A describe block's Redis: the shared server, checked before the tests (it must be there), and unique cluster
 * names whose keys are deleted after them.
 */
export function testRedis(): { readonly client: Redis; cluster(name: string): string } {
  let client: Redis | undefined;
  const clusters: string[] = [];
  beforeAll(async () => {
    client = await requireRedis();
  });
  afterAll(async () => {
    if (!client) return;
    if (clusters.length) await client.del(...clusters.map((c) => `ringroute:${c}`));
    client.disconnect();
  });
  return {
    get client() {
      return client!;
    },
    cluster(name) {
      const c = uniqueCluster(name);
      clusters.push(c);
      return c;
    },
  };
}

export interface MemberEvent {
  event: string;
  at: number;
  checksum?: string;
  epoch?: number;
  nodes?: string[];
  node?: string;
  from?: string;
  to?: string;
  reason?: string;
  owners?: (string | null)[];
  degraded?: boolean;
}

/** A member in a child process (test/fixtures/redis-member.ts); its events arrive as JSON lines. */
export class ChildMember {
  readonly events: MemberEvent[] = [];
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private exited = false;

  constructor(
    readonly id: string,
    options: Record<string, unknown>,
  ) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture, JSON.stringify({ ...options, self: { id, url: `http://127.0.0.1/${id}` } })],
      {
        cwd: packageDir,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let buffered = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(buffered.slice(0, newline)) as MemberEvent);
        buffered = buffered.slice(newline + 1);
        for (const wake of this.waiters) wake();
      }
    });
    this.child.once('exit', () => {
      this.exited = true;
      for (const wake of this.waiters) wake();
    });
  }

  /** The latest ring this member reported. */
  get ring(): MemberEvent | undefined {
    return this.events.findLast((e) => e.event === 'ring');
  }

  /** Resolves with the first event (from `after` on) that matches. */
  waitFor(predicate: (event: MemberEvent) => boolean, after = 0): Promise<MemberEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(after).find(predicate);
        if (found) {
          this.waiters.delete(check);
          resolve(found);
        } else if (this.exited) {
          this.waiters.delete(check);
          reject(new Error(`member ${this.id} exited before the awaited event`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Asks the member for the owners of these keys on its current ring. */
  async route(keys: string[]): Promise<MemberEvent> {
    const after = this.events.length;
    this.child.stdin!.write(`route ${keys.join(' ')}\n`);
    return this.waitFor((e) => e.event === 'route', after);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.write('stop\n');
    await exited;
  }

  /** SIGSTOP / SIGCONT: the member stays connected but does nothing, as in a long GC pause or a frozen VM. */
  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  kill(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return exited;
  }
}

/** Resolves once every member's latest ring satisfies the predicate at the same time; returns those rings. */
export async function converged(members: ChildMember[], predicate: (ring: MemberEvent) => boolean): Promise<MemberEvent[]> {
  while (!members.every((m) => m.ring && predicate(m.ring))) await new Promise((r) => setTimeout(r, 10));
  return members.map((m) => m.ring!);
}
