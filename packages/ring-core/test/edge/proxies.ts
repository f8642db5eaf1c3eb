import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';
export const HAPROXY = '/usr/sbin/haproxy';

/** Fails loudly (never skips) when a proxy binary the test needs is missing. */
function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`these tests need ${path} (Debian package ${pkg})`);
}

/** Resolves once something accepts connections on the port. */
export async function waitForPort(port: number, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A proxy process in the foreground, stopped by pid. */
export interface Proxy {
  /** The foreground process (HAProxy's master; its workers are its children, see `childPids`). */
  readonly pid: number;
  readonly dir: string;
  readonly config: string;
  /** stderr so far (startup errors name the config line). */
  readonly log: () => string;
  /** Resolves once the proxy runs a single worker again: after a reload, the old one has finished and exited. */
  settled(timeout?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Child processes of a pid, from /proc/<pid>/stat (the 4th field is the parent pid). */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

async function launch(
  name: string,
  command: string,
  args: (dir: string, config: string) => string[],
  text: string,
  file: string,
): Promise<Proxy & { child: ChildProcess }> {
  const dir = await mkdtemp(join(tmpdir(), `ringroute-${name}-`));
  const config = join(dir, file);
  await writeFile(config, text);
  let log = '';
  const child = spawn(command, args(dir, config), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    dir,
    config,
    log: () => log,
    async settled(timeout = 10_000) {
      const deadline = Date.now() + timeout;
      while (childPids(child.pid!).length !== 1) {
        if (Date.now() > deadline) throw new Error(`${name} still runs ${childPids(child.pid!).length} workers`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** nginx in the foreground (daemon off) with a private prefix; `http` is the body of the http {} block. */
export async function startNginx(http: string, ports: number[]): Promise<Proxy> {
  requireBinary(NGINX, 'nginx-light');
  const text = `daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr error;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;
${http}
}
`;
  const proxy = await launch('nginx', NGINX, (dir, config) => ['-p', dir, '-c', config], text, 'nginx.conf');
  await Promise.all(ports.map((port) => waitForPort(port, `nginx (${proxy.log()})`)));
  return proxy;
}

/** HAProxy in the foreground, master-worker with a master CLI socket (for reloads); `body` follows global/defaults. */
export async function startHaproxy(body: string, ports: number[], extraFiles: string[] = []): Promise<Proxy & { master: string }> {
  requireBinary(HAPROXY, 'haproxy');
  const text = `global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
${body}
`;
  let master = '';
  const proxy = await launch(
    'haproxy',
    HAPROXY,
    (dir, config) => {
      master = join(dir, 'master.sock');
      return ['-W', '-db', '-S', master, '-f', config, ...extraFiles.flatMap((f) => ['-f', f])];
    },
    text,
    'haproxy.cfg',
  );
  await Promise.all(ports.map((port) => waitForPort(port, `haproxy (${proxy.log()})`)));
  return Object.assign(proxy, { master });
}

/**
 * Sends GET requests pipelined over a few keep-alive connections (raw bytes, so header values can carry any
 * UTF-8) and returns the response bodies in request order. Fast enough for tens of thousands of keys. HAProxy
 * drops a connection whose pipeline grows far ahead of its answers: keep `batch` small (16) for it.
 */
export async function pipelined(port: number, requests: readonly Buffer[], { connections = 8, batch = 200 } = {}): Promise<string[]> {
  const bodies = new Array<string>(requests.length);
  const per = Math.ceil(requests.length / connections);
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const to = Math.min(requests.length, (c + 1) * per);
      // A connection the server closes (a reload ends the old workers' keep-alive connections) is opened again and
      // the unanswered requests sent again, as HTTP clients do for idempotent requests.
      let retries = 0;
      for (let at = c * per; at < to;) {
        const { reached, error } = await exchange(port, requests, at, to, bodies, batch);
        if (reached === at && ++retries > 5) throw new Error(`no answers from 127.0.0.1:${port}: ${error?.message ?? 'connection closed'}`);
        at = reached;
      }
    }),
  );
  return bodies;
}

/** One connection: answers requests[from..to) in order until done or closed; returns how far it got. */
function exchange(port: number, requests: readonly Buffer[], from: number, to: number, bodies: string[], batch: number) {
  return new Promise<{ reached: number; error?: Error }>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let next = from; // next response expected
    let sent = from;
    let error: Error | undefined;
    const send = () => {
      const end = Math.min(to, sent + batch);
      socket.write(Buffer.concat(requests.slice(sent, end)));
      sent = end;
    };
    socket.setNoDelay(true);
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        const head = buffer.indexOf('\r\n\r\n');
        if (head < 0) break;
        const headers = buffer.subarray(0, head).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? NaN);
        if (!Number.isFinite(length)) return socket.destroy(new Error(`response without content-length: ${headers}`));
        if (buffer.length < head + 4 + length) break;
        const status = headers.slice(9, 12);
        const body = buffer.subarray(head + 4, head + 4 + length).toString();
        bodies[next++] = status === '200' ? body : `HTTP ${status}: ${body}`;
        buffer = buffer.subarray(head + 4 + length);
      }
      if (next === to) socket.end();
      else if (next === sent) send();
    });
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ reached: next, error }));
  });
}

/**
 * What the real proxy says of a generated block: `nginx -t` on a config that includes the upstream file (named
 * `name`) and proxies to it, `haproxy -c` on a frontend plus the backend file. Resolves the proxy's complaint, or
 * undefined when it accepts the config.
 */
export async function proxyRejects(proxy: 'nginx' | 'haproxy', file: string, name = 'ringroute'): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), `ringroute-check-${proxy}-`));
  try {
    if (proxy === 'nginx') {
      requireBinary(NGINX, 'nginx-light');
      const config = join(dir, 'nginx.conf');
      await mkdir(join(dir, 'logs'));
      await writeFile(
        config,
        `pid nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  include ${file};\n  server { listen 127.0.0.1:1; location / { proxy_pass http://${name}; } }\n}\n`,
      );
      return await check(NGINX, ['-q', '-t', '-p', dir, '-c', config]);
    }
    requireBinary(HAPROXY, 'haproxy');
    const config = join(dir, 'front.cfg');
    await writeFile(
      config,
      `defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nfrontend front\n  bind 127.0.0.1:1\n  default_backend ${name}\n`,
    );
    return await check(HAPROXY, ['-q', '-c', '-f', config, '-f', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function check(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, (error, stdout, stderr) => resolve(error ? `${stderr}${stdout}`.trim() || error.message : undefined));
  });
}
