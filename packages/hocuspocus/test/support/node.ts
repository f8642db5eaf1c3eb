import * as Y from 'yjs';
import { SmartRoute, type SmartRouteOptions } from '../../src/index.js';
import { BrowserWebSocket, HocuspocusProvider, HocuspocusProviderWebsocket, Server } from './hocuspocus.js';
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
  const smartRoute = new SmartRoute({ nodeId: id, nodePort: port, redirectOnMisroute: true, adminToken: ADMIN_TOKEN, leaveOnSignals: false, ...options });
  const persistence = postgresPersistence(table, persistenceControl);
  const server = new Server({
    port,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: false,
    debounce: 100,
    maxDebounce: 500,
    extensions: [smartRoute, persistence.extension, ...extensions],
  });
  await server.listen();
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
