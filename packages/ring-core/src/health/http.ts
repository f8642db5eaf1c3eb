import type { Probe } from './checker.js';

/** GET `path` relative to the node's url with the global fetch (Node and browsers); healthy on a 2xx. */
export function httpProbe(path = '/health'): Probe {
  return async (node, signal) => {
    const response = await fetch(new URL(path, node.url), { signal, redirect: 'manual' });
    await response.body?.cancel(); // release the connection; only the status matters
    if (!response.ok) throw new Error(`health check answered ${response.status}`);
  };
}
