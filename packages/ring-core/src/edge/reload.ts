import { execFile } from 'node:child_process';
import { connect } from 'node:net';

/** Runs a command (no shell) and rejects with its stderr when it fails. */
export function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

export interface NginxReload {
  /** The nginx binary. Default 'nginx'. */
  binary?: string;
  /** The -p prefix and -c config the running nginx was started with, so the signal reaches it. */
  prefix?: string;
  config?: string;
}

/** `nginx -t` then `nginx -s reload` with the same -p/-c as the running master: a broken config never reaches it. */
export function nginxReloader({ binary = 'nginx', prefix, config }: NginxReload = {}): () => Promise<void> {
  const args = [...(prefix ? ['-p', prefix] : []), ...(config ? ['-c', config] : [])];
  return async () => {
    await run(binary, ['-q', '-t', ...args]);
    await run(binary, [...args, '-s', 'reload']);
  };
}

/** One `reload` on the master CLI; resolves when the master closes the connection (it re-executes itself). */
function masterReload(masterSocket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(masterSocket);
    let answer = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error(`HAProxy master CLI ${masterSocket} did not answer`)));
    socket.on('connect', () => socket.end('reload\n'));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => (/failed/i.test(answer) ? reject(new Error(`HAProxy reload failed: ${answer.trim()}`)) : resolve()));
  });
}

/** The master's socket is gone while it re-executes (after a reload) or starts: worth waiting for, briefly. */
const RETRIED = new Set(['ECONNREFUSED', 'ENOENT']);

/**
 * Reloads HAProxy through its master CLI (haproxy -W -S <socket>): the master re-reads every -f file and starts
 * new workers; old ones finish their connections. Retries for up to `waitMs` while the socket is not accepting.
 */
export function haproxyReloader(masterSocket: string, waitMs = 10_000): () => Promise<void> {
  return async () => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await masterReload(masterSocket);
      } catch (error) {
        if (!RETRIED.has((error as NodeJS.ErrnoException).code ?? '') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
}
