import type { Extension } from '@hocuspocus/server';
import * as Y from 'yjs';
import { SmartRoute, type SmartRouteOptions } from '../../src/index.js';
import { BrowserWebSocket, HOCUSPOCUS_MAJOR, HocuspocusProvider, HocuspocusProviderWebsocket, Server } from './hocuspocus.js';
import { postgresPersistence, type PersistenceControl } from './postgres.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestNode {
  id: string;
  port: number;
  /** ws:// URL */
  url: string;
  http: string;
  smartRoute: SmartRoute;
  server: InstanceType<typeof Server>;
  stop(): Promise<void>;
}

/** A real Hocuspocus server on 127.0.0.1 with SmartRoute first and PostgreSQL persistence. */
export async function startNode(
  id: string,
  port: number,
  table: string,
  options: SmartRouteOptions,
  persistenceControl: PersistenceControl = {},
  /** More extensions after persistence (an app's auth hooks, say). */
  extensions: object[] = [],
): Promise<TestNode> {
  const smartRoute = new SmartRoute({
    nodeId: id,
    nodePort: port,
    redirectOnMisroute: true,
    adminToken: ADMIN_TOKEN,
    leaveOnSignals: false,
    ...options,
  });
  const persistence = postgresPersistence(table, persistenceControl);
  const server = await listen(port, [smartRoute, persistence.extension, ...extensions]);
  let stopped: Promise<void> | undefined;
  return {
    id,
    port,
    url: `ws://127.0.0.1:${port}`,
    http: `http://127.0.0.1:${port}`,
    smartRoute,
    server,
    stop: () =>
      (stopped ??= (async () => {
        await smartRoute.leave();
        await server.destroy();
        await persistence.close();
      })()),
  };
}

/**
 * SmartRoute's peer: the same server and persistence with @hocuspocus/extension-redis 3.4 instead of SmartRoute
 * (`prefix` names its channels). SIGINT and SIGTERM stop it the way Hocuspocus does by default (`stopOnSignals`:
 * close every connection, store and unload every document, exit).
 */
export async function startRedisPeerNode(
  id: string,
  port: number,
  table: string,
  redis: string,
  prefix: string,
): Promise<Pick<TestNode, 'server' | 'stop'>> {
  if (HOCUSPOCUS_MAJOR !== 3) throw new Error('the extension-redis peer runs on @hocuspocus/server 3.4 only');
  const [{ Redis: RedisExtension }, { Redis }] = await Promise.all([import('@hocuspocus/extension-redis'), import('ioredis')]);
  const extension = new RedisExtension({ createClient: () => new Redis(redis), prefix, identifier: id });
  const persistence = postgresPersistence(table);
  const server = await listen(port, [extension, persistence.extension], true);
  return {
    server,
    stop: async () => {
      await server.destroy();
      await persistence.close();
    },
  };
}

/** A Hocuspocus server on 127.0.0.1 storing soon after each change (debounce 100 ms, at most 500 ms). */
async function listen(port: number, extensions: Extension[], stopOnSignals = false): Promise<InstanceType<typeof Server>> {
  const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals, debounce: 100, maxDebounce: 500, extensions });
  await server.listen();
  return server;
}

/** A document name the ring gives to `nodeId`. */
export function documentOwnedBy(smartRoute: SmartRoute, nodeId: string, prefix = 'doc'): string {
  for (let i = 0; i < 10_000; i++) {
    const name = `${prefix}-${i}`;
    if (smartRoute.ring?.owner(name)?.id === nodeId) return name;
  }
  throw new Error(`no document owned by ${nodeId}`);
}

type SocketOptions = Omit<ConstructorParameters<typeof HocuspocusProviderWebsocket>[0], 'url' | 'WebSocketPolyfill'>;

/** A provider socket (the `ws` package as a browser-like WebSocket); `options` e.g. for reconnect delays. */
export function socketTo(url: string, options: SocketOptions = {}) {
  return new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BrowserWebSocket, ...options });
}

/** A plain @hocuspocus/provider (no helper) on a shared socket, recording refusals and closes. */
export function plainProvider(socket: InstanceType<typeof HocuspocusProviderWebsocket>, name: string) {
  const refusals: string[] = [];
  const closes: string[] = [];
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name,
    document: new Y.Doc(),
    onAuthenticationFailed: ({ reason }) => refusals.push(reason),
    onClose: ({ event }) => closes.push(String(event.reason)),
  });
  provider.attach();
  return { provider, refusals, closes };
}
