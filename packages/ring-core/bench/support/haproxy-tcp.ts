import { readFileSync } from 'node:fs';
import { childPids, startHaproxy } from '../../test/edge/proxies.js';
import { freePort } from '../../test/redis/server.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface TcpProxy {
  /** http:// URL of the proxy (a `ws` client connects to it as to the target). */
  url: string;
  /** User + system CPU time HAProxy's processes have used so far (µs, 10 ms resolution). */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/**
 * HAProxy in `mode tcp` with one thread in front of `target`: a C proxy that relays bytes and parses nothing, the
 * peer of the WebSocket upgrade proxy (which pipes bytes once the handshake is through). Fails loudly without it.
 */
export async function haproxyTcp(target: string): Promise<TcpProxy> {
  const port = await freePort();
  const { hostname, port: targetPort } = new URL(target);
  const body = [
    'global',
    '  nbthread 1',
    'frontend bench',
    '  mode tcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend owner',
    'backend owner',
    '  mode tcp',
    `  server owner ${hostname}:${targetPort}`,
  ].join('\n');
  const proxy = await startHaproxy(body, [port]);
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMicros: () => [proxy.pid, ...childPids(proxy.pid)].reduce((sum, pid) => sum + cpuTicks(pid), 0) * (1_000_000 / TICKS_PER_SECOND),
    stop: () => proxy.stop(),
  };
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [utime, stime] = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .slice(11, 13)
    .map(Number);
  return utime! + stime!;
}
