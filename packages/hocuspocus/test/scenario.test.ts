import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redisCluster } from './support/redis.js';
import { DOCUMENTS, FAILURE_TIMEOUT, PROVIDERS_PER_DOCUMENT, runScenario, summary } from './support/scenario.js';

/**
 * Issue 10's chaos scenario with SmartRoute (see support/scenario.ts; bench/scenario.ts runs it beside
 * @hocuspocus/extension-redis): HAProxy round robin, 3 node processes, 20 documents x 10 plain providers through
 * a join, a SIGTERM, a kill -9 and a paused owner.
 */
let redis: Awaited<ReturnType<typeof redisCluster>>;

beforeAll(async () => {
  redis = await redisCluster();
});

afterAll(async () => {
  await redis.cleanup();
});

describe('chaos scenario behind HAProxy round robin (issue 10)', () => {
  it('20 documents x 10 plain providers through a join, a SIGTERM, a kill -9 and a paused owner: 0 acknowledged items lost', async () => {
    const result = await runScenario('smartroute', REDIS_URL, redis.cluster);
    console.log(summary(result));
    expect(result.terminated).toBe('SIGTERM'); // SmartRoute left, then the signal ended the process
    expect(result.convergedIn).toBeDefined();
    expect(result.disagreements).toEqual([]);
    expect(result.readerRefusals).toEqual([]);
    expect(result.lost).toEqual([]);
    expect(result.notStored).toEqual([]);
    expect(result.writerRefusals).toEqual([]); // relay mode: a plain provider never sees a routing refusal
    expect(result.acknowledged).toBeGreaterThan(DOCUMENTS * PROVIDERS_PER_DOCUMENT * 10);
    expect(result.replaced).toBeGreaterThan(20);
    expect(result.watch.seen).toBe(DOCUMENTS);
    expect(result.watch.maxOverlap).toBeLessThanOrEqual(FAILURE_TIMEOUT);
  }, 150_000);
});
