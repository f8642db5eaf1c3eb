import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HAPROXY = '/usr/sbin/haproxy';
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface TcpProxy {
  /** http:// URL of the proxy (a `ws` client connects to it as to the target). */
  url: string;
  /** User + system CPU time the proxy process has used so far (µs, 10 ms resolution). */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/**
 * HAProxy in `mode tcp` with one thread in front of `target`: a C proxy that relays bytes and parses nothing, the
 * peer of the WebSocket upgrade proxy (which pipes bytes once the handshake is through). Fails loudly without it.
 */
export async function haproxyTcp(target: string): Promise<TcpProxy> {
  if (!existsSync(HAPROXY)) throw new Error(`the upgrade benchmark needs ${HAPROXY} (Debian package haproxy) for its peer`);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'ringroute-bench-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  const { hostname, port: targetPort } = new URL(target);
  await writeFile(
    config,
    ['global', '  nbthread 1', 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s',
      'frontend bench', `  bind 127.0.0.1:${port}`, '  default_backend owner', 'backend owner', `  server owner ${hostname}:${targetPort}`, ''].join('\n'),
  );
  const child = spawn(HAPROXY, ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await listening(port);
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMicros() {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const [utime, stime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
      return ((utime! + stime!) * 1_000_000) / TICKS_PER_SECOND;
    },
    async stop() {
      child.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

async function listening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`haproxy did not listen on 127.0.0.1:${port}`);
}
