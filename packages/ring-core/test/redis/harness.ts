import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { requireRedis } from './server.js';

export { freePort, REDIS_URL, requireRedis, SpawnedRedis } from './server.js';
export { ChildMember, converged, type MemberEvent } from '../fixtures/child-member.js';

/** A unique cluster name per test, so tests never see each other's members. */
const uniqueCluster = (name: string) => `test-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A describe block's Redis: the shared server, checked before the tests (it must be there), and unique cluster
 * names whose keys are deleted after them.
 */
export function testRedis(): { readonly client: Redis; cluster(name: string): string } {
  let client: Redis | undefined;
  const clusters: string[] = [];
  beforeAll(async () => {
    client = await requireRedis();
  });
  afterAll(async () => {
    if (!client) return;
    if (clusters.length) await client.del(...clusters.map((c) => `ringroute:${c}`));
    client.disconnect();
  });
  return {
    get client() {
      return client!;
    },
    cluster(name) {
      const c = uniqueCluster(name);
      clusters.push(c);
      return c;
    },
  };
}
