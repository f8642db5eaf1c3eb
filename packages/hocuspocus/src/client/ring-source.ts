import { ringFromJSON, type Ring, type RingSnapshotJSON } from '@ringroute/ring-core';
import { RING_PATH } from '../hint/index.js';
import { toHttpUrl } from './routing.js';

export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string> },
) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

/** Fetches the ring from one node: `GET <node>/api/routes/ring`, answered by every SmartRoute node. */
export async function fetchRing(nodeUrl: string, fetchImpl: FetchLike, timeout: number): Promise<Ring> {
  const url = new URL(RING_PATH, toHttpUrl(nodeUrl)).href;
  const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeout), headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const json = await response.json();
  if (json === null || typeof json !== 'object' || !Array.isArray((json as RingSnapshotJSON).nodes))
    throw new Error(`GET ${url} did not answer a ring snapshot`);
  return ringFromJSON(json as RingSnapshotJSON);
}

/**
 * The client's cached ring (seed 003's smart client): fetched from any node that answers, refreshed on
 * demand, never replaced by an older epoch. Concurrent refreshes share one request.
 */
export class RingSource {
  private current: Ring | undefined;
  private pending: Promise<Ring> | undefined;
  private next = 0;

  constructor(
    private readonly seeds: readonly string[],
    private readonly fetchImpl: FetchLike,
    private readonly timeout: number,
    private readonly onRing: (ring: Ring, previous: Ring | undefined) => void,
  ) {}

  get ring(): Ring | undefined {
    return this.current;
  }

  /** The ring, fetching it first if there is none yet. */
  async get(): Promise<Ring> {
    return this.current ?? this.refresh();
  }

  refresh(): Promise<Ring> {
    this.pending ??= this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Seeds first, then every member the last ring knows: any node can answer, so a dead seed is not fatal. */
  private candidates(): string[] {
    const members = (this.current?.nodes ?? []).flatMap((node) => (node.url === undefined ? [] : [node.url]));
    const all = [...new Set([...this.seeds, ...members])];
    // Rotate so that successive refreshes spread over the nodes instead of always asking the first.
    const start = this.next++ % all.length;
    return [...all.slice(start), ...all.slice(0, start)];
  }

  private async load(): Promise<Ring> {
    const errors: unknown[] = [];
    for (const url of this.candidates()) {
      try {
        const ring = await fetchRing(url, this.fetchImpl, this.timeout);
        const previous = this.current;
        if (previous && ring.epoch < previous.epoch) return previous;
        if (!previous || ring.checksum !== previous.checksum || ring.epoch !== previous.epoch) {
          this.current = ring;
          this.onRing(ring, previous);
        }
        return ring;
      } catch (error) {
        errors.push(error);
      }
    }
    throw new AggregateError(errors, `could not fetch the ring from any node (${this.seeds.join(', ')})`);
  }
}
