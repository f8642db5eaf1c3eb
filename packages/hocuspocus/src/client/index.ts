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
export { SmartProvider, type OpenOptions } from './smart-provider.js';
export { SmartRouteError, type MoveEvent, type MoveReason, type SmartProviderEvents, type SmartRouteErrorCode } from './events.js';
export type { SmartClientOptions, SocketOptions } from './options.js';
export type { Backoff, NodeTarget } from './routing.js';
export type { FetchLike } from './ring-source.js';
export { parseRedirectHint, type RedirectHint } from '../hint/index.js';
