import type { RingNode } from '../types.js';

/** Resolves when the node is healthy, rejects (or times out) when not. The signal aborts at `timeout`. */
export type Probe = (node: RingNode, signal: AbortSignal) => Promise<void>;

/** GET `path` relative to the node's url with the global fetch (Node and browsers); healthy on a 2xx. */
export function httpProbe(path = '/health'): Probe {
  return async (node, signal) => {
    const response = await fetch(new URL(path, node.url), { signal, redirect: 'manual' });
    await response.body?.cancel(); // release the connection; only the status matters
    if (!response.ok) throw new Error(`health check answered ${response.status}`);
  };
}
