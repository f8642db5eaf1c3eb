import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { onConnectPayload, onRequestPayload } from '@hocuspocus/server';
import type { RingSnapshotJSON } from '@ringroute/ring-core';
import { RING_PATH } from '../../src/hint/index.js';
import { Server } from '../support/hocuspocus.js';

export interface ScriptedNode {
  server: InstanceType<typeof Server>;
  /** ws://127.0.0.1:<port> */
  url: string;
  /** Document names this node was asked for, in order (one entry per connect attempt). */
  connects: string[];
  /** Open WebSocket connections to this node. */
  sockets(): number;
  close(): Promise<void>;
}

export interface ScriptedNodeOptions {
  /** The refusal reason for a connect attempt, or undefined to accept it. */
  refuse?: (documentName: string, attempt: number) => string | undefined;
  /** The ring this node serves at GET /api/routes/ring; without it the node answers like a plain Hocuspocus. */
  ring?: () => RingSnapshotJSON;
}

/**
 * A plain Hocuspocus server (the version under test) on 127.0.0.1 whose answers are scripted by the test: it refuses documents
 * with exactly the reasons SmartRoute sends, so the client's guards can be shown in situations a consistent
 * cluster never produces (stale hints, two nodes bouncing a document).
 */
export async function startScriptedNode(options: ScriptedNodeOptions = {}): Promise<ScriptedNode> {
  const connects: string[] = [];
  const server = new Server({
    port: 0,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: false,
    async onConnect({ documentName }: onConnectPayload) {
      connects.push(documentName);
      const attempt = connects.filter((name) => name === documentName).length;
      const reason = options.refuse?.(documentName, attempt);
      if (reason !== undefined) throw { reason };
    },
    async onRequest({ request, response }: onRequestPayload) {
      if (!options.ring || request.url !== RING_PATH) return;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(options.ring()));
      throw null; // handled: stop Hocuspocus' default answer
    },
  });
  // Count upgraded sockets on the HTTP server: the same on 3.4 (ws) and 4.x (crossws).
  const upgraded = new Set<Duplex>();
  server.httpServer.on('upgrade', (_request: IncomingMessage, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  await server.listen();
  return {
    server,
    url: `ws://127.0.0.1:${server.address.port}`,
    connects,
    sockets: () => upgraded.size,
    close: () => server.destroy(),
  };
}
