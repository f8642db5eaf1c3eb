/**
 * Issue 10's chaos scenario, run by test/scenario.test.ts (SmartRoute) and bench/scenario.ts (SmartRoute beside
 * @hocuspocus/extension-redis): real HAProxy (round robin, no idea of documents) in front of 3 Hocuspocus node
 * processes on one Redis and one PostgreSQL store; 20 documents x 10 plain providers through the HAProxy URL, each
 * writing unique items, some closing right after a write is acknowledged (and replaced). Meanwhile a node joins,
 * one leaves with SIGTERM, one is killed with kill -9, and an owner is SIGSTOPped for 2 x failureTimeout. Then
 * fresh readers through HAProxy, and PostgreSQL, must hold every acknowledged item.
 */
import { Redis } from 'ioredis';
import * as Y from 'yjs';
import { spawnNode, type NodeConfig, type NodeProcess } from './cluster.js';
import { startRoundRobin } from './haproxy.js';
import { HOCUSPOCUS_MAJOR } from './hocuspocus.js';
import { plainProvider, socketTo } from './node.js';
import { OwnerWatch } from './owner-watch.js';
import { freePort, until } from './ports.js';
import { createTable } from './postgres.js';
import { redisCommands } from './redis.js';

export const DOCUMENTS = 20;
export const PROVIDERS_PER_DOCUMENT = 10;
export const FAILURE_TIMEOUT = 2500; // SmartRoute's default
const WRITE_EVERY_MS = 1000; // per provider
const TICK_MS = 100;

export type Peer = NonNullable<NodeConfig['peer']>;

export interface ScenarioResult {
  peer: Peer;
  /** The chaos events, each at its time since the start. */
  chaos: string[];
  /** How the node sent SIGTERM ended: its signal (SmartRoute raises it again after leaving) or its exit code. */
  terminated: string | number | null;
  written: number;
  acknowledged: number;
  /** Acknowledged items a fresh reader through HAProxy lacks. */
  lost: string[];
  /** Acknowledged items PostgreSQL lacks 15 s after the readers. */
  notStored: string[];
  /** Documents whose fresh reader never synced, or read other content than the live clients hold. */
  disagreements: string[];
  writerRefusals: string[];
  readerRefusals: string[];
  clients: number;
  /** Clients that closed right after an acknowledged write (each replaced by a new one). */
  replaced: number;
  watch: Pick<OwnerWatch, 'maxOverlap' | 'worst' | 'samples' | 'seen'>;
  /** ms from the end of the writes until every live client converged; undefined if not within 30 s. */
  convergedIn: number | undefined;
  /** CPU ms of every node process from its ready report until the readers are done, or until it died. */
  cpuMs: number;
  /** Redis commands from the nodes' start until the readers are done (every client counts: use a private Redis). */
  redisCommands: number;
  seconds: number;
}

/** One plain provider's items, and how many of them the server acknowledged. */
interface Writer {
  id: string;
  documentName: string;
  client: ReturnType<typeof plainProvider>;
  socket: ReturnType<typeof socketTo>;
  written: string[];
  acknowledged: number;
  /** Close once this many items are acknowledged (a client that leaves right after its write is acknowledged). */
  closeAt: number | undefined;
  closed: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const items = (doc: Y.Doc) => doc.getArray<string>('items');
const close = (client: ReturnType<typeof plainProvider>, socket: ReturnType<typeof socketTo>) => {
  client.provider.destroy();
  socket.destroy();
};
const documentNames = Array.from({ length: DOCUMENTS }, (_, i) => `scenario-${i}`);

/** The scenario with `peer` routing on every node, `redis` for its membership or messages (a fresh `cluster` name). */
export async function runScenario(peer: Peer, redis: string, cluster: string): Promise<ScenarioResult> {
  const started = Date.now();
  const cleanup: (() => unknown)[] = [];
  try {
    const table = await createTable();
    cleanup.push(() => table.drop());
    const admin = new Redis(redis);
    cleanup.push(() => admin.disconnect());
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    const haproxy = await startRoundRobin(ports); // the 4th server joins later; until then health checks keep it out
    cleanup.push(() => haproxy.stop());
    const processes: NodeProcess[] = [];
    cleanup.push(() =>
      Promise.all(
        processes.map((node) => {
          node.resume();
          return node.kill();
        }),
      ),
    );
    const commandsBefore = await redisCommands(admin);
    const config: NodeConfig = {
      peer,
      table: table.table,
      redis,
      cluster,
      secret: 'scenario-test-secret',
      misroute: 'relay',
      migrationTimeout: 2000,
    }; // shorter than failure detection (2 x 2500 ms)
    processes.push(...(await Promise.all(['n1', 'n2', 'n3'].map((id, i) => spawnNode(id, { ...config, port: ports[i] })))));
    const [n1, n2, n3] = processes as [NodeProcess, NodeProcess, NodeProcess];
    const ringSize = async () => ((await (await fetch(`${n1.http}/api/routes/ring`)).json()) as { nodes: unknown[] }).nodes.length;
    if (peer === 'smartroute') await until(async () => (await ringSize()) === 3, 'three members'); // extension-redis has no membership

    // Clients know only the HAProxy URL, and use nothing of SmartRoute's.
    const writers: Writer[] = [];
    // A provider's awareness keeps a timer running: destroying them lets a benchmark process end.
    cleanup.push(() => writers.filter((w) => !w.closed).forEach((w) => close(w.client, w.socket)));
    const open = (documentName: string): Writer => {
      const socket = socketTo(haproxy.url, { delay: 100, minDelay: 100, maxDelay: 1000 });
      const w: Writer = {
        id: `c${writers.length}`,
        documentName,
        client: plainProvider(socket, documentName),
        socket,
        written: [],
        acknowledged: 0,
        closeAt: undefined,
        closed: false,
      };
      // unsyncedChanges reaches 0 when the server has applied every update this provider sent: all its items so far.
      w.client.provider.on('unsyncedChanges', ({ number }: { number: number }) => {
        if (number !== 0 || w.closed) return;
        w.acknowledged = w.written.length;
        if (w.closeAt === undefined || w.acknowledged < w.closeAt) return;
        w.closed = true;
        queueMicrotask(() => {
          close(w.client, w.socket);
          open(w.documentName);
        });
      });
      writers.push(w);
      return w;
    };
    for (const name of documentNames) for (let p = 0; p < PROVIDERS_PER_DOCUMENT; p++) open(name);
    await until(() => writers.every((w) => w.client.provider.isSynced), 'every provider to sync', 30_000, 50);

    const watch = new OwnerWatch(() => processes, documentNames);
    cleanup.push(() => watch.stop());
    let writing = true;
    const edits = (async () => {
      for (let tick = 0; writing; tick++) {
        const slots = WRITE_EVERY_MS / TICK_MS;
        for (const [i, w] of writers.entries()) {
          if (w.closed || i % slots !== tick % slots) continue;
          const item = `${w.id}-${w.written.length}`;
          w.written.push(item);
          items(w.client.provider.document).push([item]);
        }
        // About every half second a client closes right after its next write is acknowledged (a new one replaces it).
        if (tick % 5 === 0) {
          const live = writers.filter((w) => !w.closed && w.closeAt === undefined);
          const leaving = live[Math.floor(Math.random() * live.length)];
          if (leaving) leaving.closeAt = leaving.written.length + 1;
        }
        await sleep(TICK_MS);
      }
    })();

    const chaos: string[] = [];
    const mark = (event: string) => chaos.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${event}`);
    await sleep(3000);
    processes.push(await spawnNode('n4', { ...config, port: ports[3] }));
    mark('n4 joined');
    await sleep(4000);
    await n2.terminate();
    mark('n2 left (SIGTERM)');
    await sleep(3000);
    watch.killing(n3);
    await n3.kill();
    mark('n3 killed (kill -9)');
    await sleep(2 * FAILURE_TIMEOUT + 2000); // declared dead, its documents served elsewhere
    const victim = await servingFirstDocument(peer, [n1, processes[3]!]);
    watch.pause(victim);
    mark(`${victim.id} paused (SIGSTOP)`);
    await sleep(2 * FAILURE_TIMEOUT);
    watch.resume(victim);
    mark(`${victim.id} resumed (SIGCONT)`);
    await sleep(4000);
    writing = false;
    await edits;
    const stoppedWriting = Date.now();

    // Every live client converges: synced, nothing unacknowledged, and the same content as every other client of its document.
    const live = writers.filter((w) => !w.closed);
    const converged = () =>
      live.every((w) => w.client.provider.isSynced && w.client.provider.unsyncedChanges === 0) &&
      documentNames.every(
        (name) =>
          new Set(live.filter((w) => w.documentName === name).map((w) => JSON.stringify(items(w.client.provider.document).toArray())))
            .size === 1,
      );
    const convergedIn = await until(converged, 'every live client to converge', 30_000, 50).then(
      () => Date.now() - stoppedWriting,
      () => undefined,
    );
    await watch.stop();

    // Fresh providers through HAProxy read every document: every acknowledged item is there, and nothing the clients lack.
    const expected = new Map(documentNames.map((name) => [name, new Set<string>()]));
    for (const w of writers) for (const item of w.written.slice(0, w.acknowledged)) expected.get(w.documentName)!.add(item);
    const lost: string[] = [];
    const disagreements: string[] = [];
    const readerRefusals: string[] = [];
    for (const name of documentNames) {
      const socket = socketTo(haproxy.url);
      const reader = plainProvider(socket, name);
      cleanup.push(() => close(reader, socket));
      const synced = await until(() => reader.provider.isSynced, `a fresh reader of ${name}`).then(
        () => true,
        () => false,
      );
      const read = items(reader.provider.document).toArray();
      lost.push(...[...expected.get(name)!].filter((item) => !read.includes(item)).map((item) => `${name}/${item}`));
      const client = live.find((w) => w.documentName === name)!;
      if (!synced) disagreements.push(`${name}: a fresh reader never synced`);
      else if (JSON.stringify(read) !== JSON.stringify(items(client.client.provider.document).toArray()))
        disagreements.push(`${name}: a fresh reader and the clients disagree`);
      readerRefusals.push(...reader.refusals);
    }
    const cpuMs = processes.reduce((sum, node) => sum + node.cpu(), 0);
    const commands = (await redisCommands(admin)) - commandsBefore - 1;

    // And PostgreSQL holds them (stored within Hocuspocus's debounce).
    const unstored = async () => {
      const missing: string[] = [];
      for (const name of documentNames) {
        const stored = new Y.Doc();
        const state = await table.load(name);
        if (state) Y.applyUpdate(stored, state);
        const have = new Set(items(stored).toArray());
        missing.push(...[...expected.get(name)!].filter((item) => !have.has(item)).map((item) => `${name}/${item} (storage)`));
      }
      return missing;
    };
    let notStored = await unstored();
    for (const deadline = Date.now() + 15_000; notStored.length > 0 && Date.now() < deadline; notStored = await unstored())
      await sleep(250);

    return {
      peer,
      chaos,
      terminated: n2.child.signalCode ?? n2.child.exitCode,
      written: writers.reduce((sum, w) => sum + w.written.length, 0),
      acknowledged: [...expected.values()].reduce((sum, set) => sum + set.size, 0),
      lost,
      notStored,
      disagreements,
      writerRefusals: writers.flatMap((w) => w.client.refusals),
      readerRefusals,
      clients: writers.length,
      replaced: writers.filter((w) => w.closed).length,
      watch: { maxOverlap: watch.maxOverlap, worst: watch.worst, samples: watch.samples, seen: watch.seen },
      convergedIn,
      cpuMs,
      redisCommands: commands,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
}

/** The node now serving the first document: SmartRoute's owner; with extension-redis, the first one holding it. */
async function servingFirstDocument(peer: Peer, candidates: NodeProcess[]): Promise<NodeProcess> {
  if (peer === 'smartroute') {
    const { owner } = (await (await fetch(`${candidates[0]!.http}/api/routes/document/${documentNames[0]}`)).json()) as {
      owner: { id: string };
    };
    return candidates.find((node) => node.id === owner.id)!;
  }
  for (const node of candidates) if ((await node.documents())?.includes(documentNames[0]!)) return node;
  return candidates[0]!;
}

/** One line: what happened and what the checks found. */
export function summary(r: ScenarioResult): string {
  return (
    `chaos scenario, ${r.peer} (Hocuspocus ${HOCUSPOCUS_MAJOR === 4 ? '4.x' : '3.4'}, Node ${process.versions.node}): ` +
    `${r.chaos.join(', ')}; items written ${r.written}, acknowledged ${r.acknowledged}, lost ${r.lost.length} (storage: ${r.notStored.length}); ` +
    `clients ${r.clients} (${r.replaced} closed after an acknowledged write and replaced); ` +
    `max duplicate-owner overlap ${r.watch.maxOverlap} ms${r.watch.worst ? ` (${r.watch.worst})` : ''} in ${r.watch.samples} samples; ` +
    `${r.convergedIn === undefined ? 'not converged within 30 s' : `converged ${r.convergedIn} ms`} after the writes stopped; server CPU ${r.cpuMs.toFixed(0)} ms, Redis commands ${r.redisCommands}; ` +
    `run ${r.seconds.toFixed(1)} s`
  );
}
