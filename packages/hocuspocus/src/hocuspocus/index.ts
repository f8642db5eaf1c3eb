/**
 * The parts of @hocuspocus/server that SmartRoute touches, typed structurally so one build works with 3.4.x
 * and 4.x. What differs between the two is feature-detected here and nowhere else:
 * - 4.x processes a connection's messages asynchronously (`Connection.waitForPendingMessages`);
 * - the onStoreDocument payload is `{ context, requestHeaders, ... }` in 3.4 and `{ lastContext, ... }` in 4.x;
 * - request headers are an IncomingHttpHeaders object (3.4) or a `Headers` (4.x);
 * - `handleConnection` takes a `ws` socket and an IncomingMessage and reads the socket itself (3.4), or a
 *   WebSocket-like and a Fetch `Request` and returns a connection the caller feeds (4.x).
 */
import { EventEmitter } from 'node:events';
import { encodeStateVector, type Doc } from 'yjs';

export interface CloseEventLike {
  code: number;
  reason: string;
}

export interface ConnectionLike {
  close(event?: CloseEventLike): void;
  /** 4.x only. */
  waitForPendingMessages?: () => Promise<void>;
}

export interface DocumentLike extends Doc {
  name: string;
  isLoading: boolean;
  getConnections(): ConnectionLike[];
  getConnectionsCount(): number;
  /** Hocuspocus serialises stores with it, so a slow older store cannot land after a newer one. */
  saveMutex: { isLocked(): boolean; runExclusive<T>(fn: () => Promise<T>): Promise<T> };
}

export interface HocuspocusLike {
  documents: Map<string, DocumentLike>;
  loadingDocuments: Map<string, Promise<DocumentLike>>;
  debouncer: {
    isDebounced(id: string): boolean;
    isCurrentlyExecuting(id: string): boolean;
    executeNow(id: string): unknown;
  };
  hooks(name: string, payload: unknown): Promise<unknown>;
  unloadDocument(document: DocumentLike): Promise<unknown>;
  getConnectionsCount(): number;
  openDirectConnection(documentName: string, context?: unknown): Promise<DirectConnectionLike>;
  handleConnection(socket: unknown, request: unknown): unknown;
  configuration?: { timeout?: number };
}

/** What SmartRoute reads from the payloads of Hocuspocus's document hooks. */
export interface DocumentPayload {
  documentName: string;
  document?: DocumentLike;
  instance?: HocuspocusLike;
  requestParameters?: URLSearchParams;
}

export interface DirectConnectionLike {
  transact(transaction: (document: Doc) => void): Promise<void>;
  disconnect(): Promise<void>;
}

/** What 4.x's handleConnection returns: the caller feeds it the socket's messages and its close. */
export interface ClientConnectionLike {
  handleMessage(data: Uint8Array): void;
  handleClose(event?: CloseEventLike): void;
}

const feedsMessages = new WeakMap<HocuspocusLike, boolean>();

/**
 * true when `handleConnection` returns a connection to feed (4.x), false when it reads a `ws` socket itself
 * (3.4). Detected once per instance by behaviour: a probe connection is opened on an inert socket and closed.
 */
export function returnsClientConnection(instance: HocuspocusLike): boolean {
  let detected = feedsMessages.get(instance);
  if (detected === undefined) {
    const probe = Object.assign(new EventEmitter(), { readyState: 1, binaryType: 'nodebuffer', send() {}, close() {}, ping() {} });
    const connection = instance.handleConnection(probe, { url: '/', headers: {} }) as Partial<ClientConnectionLike> | undefined;
    detected = typeof connection?.handleMessage === 'function';
    if (detected) connection!.handleClose!();
    else probe.emit('close', 1000, Buffer.alloc(0));
    feedsMessages.set(instance, detected);
  }
  return detected;
}

const storeDebounceId = (name: string) => `onStoreDocument-${name}`;

/** A document the instance has loaded or is loading. */
export function isHeld(instance: HocuspocusLike, name: string): boolean {
  return instance.documents.has(name) || instance.loadingDocuments.has(name);
}

/**
 * Closes every connection to the document with `event` (each client receives `event.reason` in its onClose),
 * then waits until messages those connections had already handed over are applied (4.x queues them).
 */
export async function closeConnections(document: DocumentLike, event: CloseEventLike): Promise<void> {
  const connections = document.getConnections();
  for (const connection of connections) connection.close(event);
  await Promise.all(connections.map((connection) => connection.waitForPendingMessages?.()));
}

export const sameVector = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * Runs the store hooks of every extension (persistence) for the document and resolves only when they succeeded,
 * repeating while updates that were already in flight keep arriving: when it resolves, storage holds every
 * update the document had applied. Rejects with the hook's error.
 */
export async function storeDocument(instance: HocuspocusLike, document: DocumentLike): Promise<void> {
  // A debounced store would otherwise run after ours, and keeps the document from unloading.
  const debounced = storeDebounceId(document.name);
  if (instance.debouncer.isDebounced(debounced)) await Promise.resolve(instance.debouncer.executeNow(debounced)).catch(() => {});
  const payload = {
    instance,
    document,
    documentName: document.name,
    clientsCount: document.getConnectionsCount(),
    context: {},
    lastContext: {},
    requestHeaders: {},
    requestParameters: new URLSearchParams(),
    socketId: '',
  };
  for (;;) {
    const before = encodeStateVector(document);
    await document.saveMutex.runExclusive(async () => {
      await instance.hooks('onStoreDocument', payload);
      await instance.hooks('afterStoreDocument', payload);
    });
    await new Promise((resolve) => setImmediate(resolve)); // let in-flight message handlers finish
    if (sameVector(before, encodeStateVector(document))) return;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Nothing but (possibly) 3.4's stale "executing" flag keeps the document: no connection, no pending or running store. */
const idle = (instance: HocuspocusLike, document: DocumentLike) =>
  document.getConnectionsCount() === 0 && !instance.debouncer.isDebounced(storeDebounceId(document.name)) && !document.saveMutex.isLocked();

/**
 * Unloads a document whose final store is confirmed; resolves true once it is gone, false while something still
 * holds it (a connection, a direct connection, a pending store).
 *
 * 3.4.x: a store that threw leaves its debounce entry "executing" for ever (the debouncer never clears it), and
 * Hocuspocus then refuses to unload the document at all. A real store takes the save mutex at once, so when the
 * flag stays up with the mutex free, nothing runs: do what Hocuspocus's own unload does.
 */
export async function unloadDocument(instance: HocuspocusLike, document: DocumentLike): Promise<boolean> {
  const gone = () => instance.documents.get(document.name) !== document;
  if (!idle(instance, document)) return gone();
  await instance.unloadDocument(document);
  if (gone() || !instance.debouncer.isCurrentlyExecuting(storeDebounceId(document.name))) return gone();
  await sleep(50);
  if (gone() || !idle(instance, document)) return gone();
  await instance.hooks('beforeUnloadDocument', { instance, documentName: document.name, document });
  if (gone() || !idle(instance, document)) return gone();
  instance.documents.delete(document.name);
  document.destroy();
  await instance.hooks('afterUnloadDocument', { instance, documentName: document.name });
  return true;
}

/** The URL parameters of a hook payload (the same URLSearchParams in 3.4 and 4.x). */
export function parameter(payload: { requestParameters?: URLSearchParams }, name: string): string | undefined {
  return payload.requestParameters?.get(name) ?? undefined;
}
