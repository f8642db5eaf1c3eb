import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll } from 'vitest';

export interface RunningApp {
  child: ChildProcess;
  /** node id -> http URL, as the app printed them. */
  nodes: Map<string, string>;
}

export interface ExampleApp {
  /** Starts the example as its README does (src/main.ts under tsx), 3 local nodes on free ports. */
  start(env?: Record<string, string>): Promise<RunningApp>;
  /** SIGTERM, as an orchestrator would: the nodes leave the ring before the process exits. */
  stop(app: RunningApp | undefined): Promise<void>;
}

/**
 * Starts and stops an example app's process in tests. Call it at the top of a test file: every process it
 * started is killed after the file, whatever happens to a test.
 */
export function exampleApp(appDir: URL, options: { readyLine: string; env?: Record<string, string> }): ExampleApp {
  const started = new Set<ChildProcess>();
  afterAll(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    async start(env = {}) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: appDir,
        env: { ...process.env, PORT: '0', NODE_ID: '', REDIS_URL: '', ...options.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      started.add(child);
      const nodes = new Map<string, string>();
      for await (const line of createInterface({ input: child.stdout! })) {
        const match = /^(node-\d+) (http:\/\/\S+)$/.exec(line);
        if (match) nodes.set(match[1]!, match[2]!);
        if (line.startsWith(options.readyLine)) break;
      }
      if (nodes.size !== 3) throw new Error(`the app did not start 3 nodes (got ${nodes.size})`);
      return { child, nodes };
    },
    async stop(app) {
      if (!app || app.child.exitCode !== null) return;
      const exited = once(app.child, 'exit');
      app.child.kill('SIGTERM');
      await exited;
    },
  };
}
