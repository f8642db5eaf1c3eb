/**
 * The benchmarks' server processes (relay-node.ts): starting one, asking it for its figures over IPC, stopping it,
 * and the Redis server's own usage. Shared by relay.ts and scale.ts, so both peers always start the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { builtPackages } from '../../../ring-core/bench/support/built.js';
import { freePort } from '../../test/support/ports.js';
import { redisCommands } from '../../test/support/redis.js';
import type { BenchNodeConfig, BenchNodeRequest, BenchNodeStats } from '../relay-node.js';

const entry = fileURLToPath(new URL('../relay-node.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

export interface BenchNode {
  url: string;
  port: number;
  child: ChildProcess;
  /** Its figures now (with `gc`, after a full garbage collection; `watchPeak` starts or stops RSS sampling). */
  stats(request?: Omit<BenchNodeRequest, 'type'>): Promise<BenchNodeStats>;
  /** Disconnects the IPC channel (the node exits by itself, so a profiler can write its file); SIGKILL if it hangs. */
  stop(): Promise<void>;
}

/**
 * One server process running the built packages; `nodeFlags` go to its Node (e.g. `--cpu-prof`). Its stderr shows
 * SmartRoute's warnings unless `quiet` (extension-redis's is never shown: it logs every store it could not lock).
 */
export async function startNode(
  config: Omit<BenchNodeConfig, 'port'>,
  nodeFlags: readonly string[] = [],
  quiet = false,
): Promise<BenchNode> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    cwd: packageDir,
    env: builtPackages(new URL('../../', import.meta.url), { RINGROUTE_BENCH_NODE: JSON.stringify({ ...config, port }) }),
    stdio: ['ignore', 'inherit', quiet || config.peer === 'extension-redis' ? 'ignore' : 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench node ${config.id} exited (${code})`)));
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    child,
    stats: (request = {}) =>
      new Promise((resolve) => {
        child.once('message', (stats) => resolve(stats as BenchNodeStats));
        child.send({ type: 'stats', ...request } satisfies BenchNodeRequest);
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => resolve(clearTimeout(kill)));
        child.disconnect();
      }),
  };
}

/** Total calls in INFO commandstats (minus the INFOs that read them), and Redis's CPU time so far (ms). */
export async function redisUsage(redis: Redis): Promise<{ commands: number; cpu: number }> {
  const commands = await redisCommands(redis);
  const cpu = await redis.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? NaN);
  return { commands, cpu: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000 };
}
