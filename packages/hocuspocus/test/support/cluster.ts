import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const entry = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));

export interface NodeProcess {
  id: string;
  port: number;
  url: string;
  http: string;
  child: ChildProcess;
  /** Graceful leave: handover, then exit. */
  leave(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** kill -TERM, and wait for the process to end. */
  terminate(): Promise<void>;
  /** kill -STOP / kill -CONT. */
  pause(): void;
  resume(): void;
}

export interface NodeConfig {
  table: string;
  redis: string;
  cluster: string;
  syncInterval?: number;
  failureTimeout?: number;
  migrationTimeout?: number;
  maxConcurrentHandovers?: number;
  secret?: string;
}

/** Spawns a cluster node under the same Node binary (20 or 22) with tsx, resolving workspace sources. */
export async function spawnNode(id: string, config: NodeConfig): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: packageDir,
    env: { ...process.env, RINGROUTE_NODE: JSON.stringify({ id, port, ...config }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code, signal) => reject(new Error(`node ${id} exited before it was ready (${code ?? signal})`)));
  });
  return {
    id,
    port,
    url: `ws://127.0.0.1:${port}`,
    http: `http://127.0.0.1:${port}`,
    child,
    leave: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ leave: true });
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}
