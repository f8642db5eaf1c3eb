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
  /** The documents loaded on the node now (over IPC); undefined if it does not answer within `timeout` ms. */
  documents(timeout?: number): Promise<string[] | undefined>;
  /** CPU ms the process used since it was ready, as of its last report (every 200 ms; kept after it dies). */
  cpu(): number;
}

export interface NodeConfig {
  /** What routes documents: SmartRoute (the default) or its peer @hocuspocus/extension-redis (Hocuspocus 3.4 only). */
  peer?: 'smartroute' | 'extension-redis';
  table: string;
  redis: string;
  cluster: string;
  syncInterval?: number;
  failureTimeout?: number;
  migrationTimeout?: number;
  maxConcurrentHandovers?: number;
  secret?: string;
  /** SmartRoute's `misroute` (the test nodes default to 'redirect', for the client helper). */
  misroute?: 'relay' | 'redirect' | 'refuse';
  /** The port to listen on (a proxy in front may list it before the node starts); a free one by default. */
  port?: number;
}

/** Spawns a cluster node under the same Node binary (20 or 22) with tsx, resolving workspace sources. */
export async function spawnNode(id: string, config: NodeConfig): Promise<NodeProcess> {
  const port = config.port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: packageDir,
    env: { ...process.env, RINGROUTE_NODE: JSON.stringify({ ...config, id, port }) },
    // extension-redis logs every store it could not lock (each node stores every document it holds).
    stdio: ['ignore', 'inherit', config.peer === 'extension-redis' ? 'ignore' : 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let requests = 0;
  const cpu = { ready: 0, last: 0 };
  await new Promise<void>((resolve, reject) => {
    child.once('message', (message: { cpu: number }) => {
      cpu.ready = cpu.last = message.cpu;
      resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`node ${id} exited before it was ready (${code ?? signal})`)));
  });
  child.on('message', (message: { cpu?: number }) => {
    if (message.cpu !== undefined) cpu.last = message.cpu;
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
    cpu: () => (cpu.last - cpu.ready) / 1000,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    documents: (timeout = 2000) => {
      if (!child.connected) return Promise.resolve(undefined);
      const request = ++requests;
      return new Promise((resolve) => {
        const answer = (message: { documents?: number; names?: string[] }) => {
          if (message.documents === request) done(message.names);
        };
        const done = (names: string[] | undefined) => {
          clearTimeout(timer);
          child.off('message', answer);
          child.off('exit', gone);
          resolve(names);
        };
        const gone = () => done(undefined);
        const timer = setTimeout(gone, timeout);
        child.on('message', answer);
        child.once('exit', gone);
        child.send({ documents: request }, (error) => error && gone());
      });
    },
  };
}
