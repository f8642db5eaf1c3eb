/**
 * `@ringroute/hocuspocus/client`: the browser-safe client helper for SmartRoute clusters.
 *
 * ```ts
 * const client = createSmartClient({ nodes: ['https://collab-1.example.com'] });
 * const doc = await client.open('my-document');   // connects to the owner, follows redirect hints
 * new Editor({ extensions: [Collaboration.configure({ document: doc.document })] });
 * ```
 */
export { createSmartClient, SmartClient, type SmartClientEvents } from './smart-client.js';
export {
  SmartProvider,
  SmartRouteError,
  type MoveEvent,
  type MoveReason,
  type OpenOptions,
  type SmartProviderEvents,
  type SmartRouteErrorCode,
} from './smart-provider.js';
export type { SmartClientOptions, SocketOptions } from './options.js';
export type { Backoff, NodeTarget } from './routing.js';
export type { FetchLike } from './ring-source.js';
export { parseRedirectHint, type RedirectHint } from '../hint/index.js';
