/**
 * The @hocuspocus/server (and provider, and extension-database) major version under test: 3.4.x by default
 * (Node 20), 4.x when RINGROUTE_HOCUSPOCUS_MAJOR=4 (the Node 22 run, see vitest.v4.config.ts).
 */
import { WebSocket } from 'ws';

type ServerModule = typeof import('@hocuspocus/server');
type ProviderModule = typeof import('@hocuspocus/provider');
type DatabaseModule = typeof import('@hocuspocus/extension-database');

export const HOCUSPOCUS_MAJOR = process.env.RINGROUTE_HOCUSPOCUS_MAJOR === '4' ? 4 : 3;
const v4 = HOCUSPOCUS_MAJOR === 4;

export const { Server } = (v4 ? await import('hocuspocus-server-v4') : await import('@hocuspocus/server')) as unknown as ServerModule;
export const { HocuspocusProvider, HocuspocusProviderWebsocket } = (v4
  ? await import('hocuspocus-provider-v4')
  : await import('@hocuspocus/provider')) as unknown as ProviderModule;
export const { Database } = (v4
  ? await import('hocuspocus-extension-database-v4')
  : await import('@hocuspocus/extension-database')) as unknown as DatabaseModule;

/**
 * `ws` as a provider's WebSocket, behaving like a browser's: errors reach `onerror` only. (The provider closes a
 * socket still connecting when its connect attempt times out; `ws` then emits 'error', which would throw with no
 * listener.)
 */
export class BrowserWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => {});
  }
}
