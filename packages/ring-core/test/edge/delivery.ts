import type { Membership } from '@ringroute/ring-core';
import { pipelined } from './proxies.js';

/** One answer of an adapter node behind an edge proxy: 421 when it refused a key it does not own, else who served. */
export interface Answer {
  status: number;
  node: string | undefined;
}

/**
 * Sends `GET /doc?doc=<key>` for each key through the proxy listening on `front`; the nodes answer `{ node }`.
 * `batch` is the pipeline depth (see pipelined: HAProxy wants it small).
 */
export async function sendDocs(front: number, docs: readonly string[], batch: number): Promise<Answer[]> {
  const request = (doc: string) => Buffer.from(`GET /doc?doc=${encodeURIComponent(doc)} HTTP/1.1\r\nhost: edge\r\n\r\n`);
  const bodies = await pipelined(front, docs.map(request), { connections: 8, batch });
  // pipelined marks a non-200 answer (the 421 refusals) as `HTTP <status>: <body>`.
  return bodies.map((body) =>
    body.startsWith('HTTP ')
      ? { status: Number(body.slice(5, 8)), node: undefined }
      : { status: 200, node: (JSON.parse(body) as { node: string }).node },
  );
}

/** Counts the refusals (misrouted by the edge) and any answer from a node other than the key's owner. */
export function tally(docs: readonly string[], answers: readonly Answer[], membership: Membership) {
  let misrouted = 0;
  let wrong = 0;
  docs.forEach((doc, i) => {
    const answer = answers[i]!;
    if (answer.status === 421) misrouted++;
    else if (answer.status !== 200 || answer.node !== membership.ring.owner(doc)?.id) wrong++;
  });
  return { requests: docs.length, misrouted, wrong };
}
