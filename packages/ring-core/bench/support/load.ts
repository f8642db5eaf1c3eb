import { Pool } from 'undici';

export interface LoadResult {
  /** Requests answered with 2xx. */
  count: number;
  /** Latency of each request (ms), in completion order. */
  latencies: number[];
}

/**
 * A closed loop: `connections` keep-alive connections, each sending its next request as soon as the previous one is
 * answered, for `ms` milliseconds. Latencies are measured with performance.now() (autocannon rounds to whole ms,
 * too coarse for a loopback p50). `path(i)` gives the i-th request's path; any answer but 2xx throws.
 */
export async function closedLoop(
  origin: string,
  { connections, ms, method = 'GET', path }: { connections: number; ms: number; method?: 'GET' | 'POST'; path: (i: number) => string },
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const { statusCode, body } = await pool.request({ method, path: path(next++) });
      if (statusCode < 200 || statusCode > 299) throw new Error(`${origin}: answered ${statusCode}: ${await body.text()}`);
      await body.dump();
      latencies.push(performance.now() - started);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    await pool.close();
  }
  return { count: latencies.length, latencies };
}
