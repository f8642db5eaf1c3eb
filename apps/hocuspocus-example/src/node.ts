import { Database } from '@hocuspocus/extension-database';
import { Server } from '@hocuspocus/server';
import { SmartRoute, type SmartRouteOptions } from '@ringroute/hocuspocus';
import { editorPage, type EditorAssets } from './editor-page.js';
import type { DocumentStore } from './store.js';

export interface EditorNodeOptions {
  host: string;
  port: number;
  store: DocumentStore;
  assets: EditorAssets;
  /** SmartRoute's options: nodeId, the cluster secret, and a membership or Redis. */
  smartRoute: SmartRouteOptions;
}

export interface EditorNode {
  id: string;
  port: number;
  smartRoute: SmartRoute;
  /** Hands owned documents over (flushing them to the store), leaves the ring, closes the server. */
  stop(): Promise<void>;
}

/**
 * One Hocuspocus node: SmartRoute first (relay mode, its default: a document another node owns is relayed there
 * before anything here loads it), then persistence.
 */
export async function startEditorNode({ host, port, store, assets, smartRoute: options }: EditorNodeOptions): Promise<EditorNode> {
  const smartRoute = new SmartRoute({ nodePort: port, ...options });
  const server = new Server({
    address: host,
    port,
    quiet: true,
    stopOnSignals: false, // main.ts stops every node itself, after they leave the ring
    debounce: 200,
    maxDebounce: 1000,
    extensions: [
      smartRoute,
      new Database({
        fetch: ({ documentName }) => store.fetch(documentName),
        store: ({ documentName, state }) => store.store(documentName, state),
      }),
      editorPage(assets),
    ],
  });
  await server.listen();
  let stopped: Promise<void> | undefined;
  return {
    id: options.nodeId!,
    port,
    smartRoute,
    stop: () =>
      (stopped ??= (async () => {
        await smartRoute.leave();
        await server.destroy();
      })()),
  };
}
