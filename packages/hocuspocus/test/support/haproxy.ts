import { startHaproxy, type Proxy } from '../../../ring-core/test/edge/proxies.js';
import { freePort } from './ports.js';

export interface RoundRobin {
  port: number;
  /** ws:// URL of the proxy: what every client connects to. */
  url: string;
  proxy: Proxy;
  stop(): Promise<void>;
}

/**
 * Debian's HAProxy (ring-core's test launcher: foreground, stopped by pid) doing plain round robin over `ports`,
 * as a load balancer that knows nothing of documents would. Health checks (`GET /health`) take a node that is not
 * listening yet, gone or paused out of the rotation within about a second; a connection refused is redispatched to
 * another server. WebSockets are tunnelled for an hour.
 */
export async function startRoundRobin(ports: readonly number[]): Promise<RoundRobin> {
  const port = await freePort();
  const servers = ports.map((p, i) => `  server node-${i + 1} 127.0.0.1:${p} check`).join('\n');
  const proxy = await startHaproxy(
    `frontend collab
  bind 127.0.0.1:${port}
  default_backend nodes
backend nodes
  balance roundrobin
  option redispatch
  retries 3
  timeout tunnel 1h
  timeout check 500ms
  option httpchk GET /health
  default-server inter 250ms fall 2 rise 1
${servers}
`,
    [port],
  );
  return { port, url: `ws://127.0.0.1:${port}`, proxy, stop: () => proxy.stop() };
}
