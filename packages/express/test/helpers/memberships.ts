import { randomUUID } from 'node:crypto';
import { MemoryBus, MemoryMembership, type Membership, type NodeSpec } from '@ringroute/ring-core';
import { RedisMembership } from '@ringroute/ring-core/redis';
import { Redis } from 'ioredis';
import { REDIS_URL } from './cluster.js';

/** A fresh shared membership per cluster: every call of `create` joins the same ring. */
export interface MembershipKind {
  name: string;
  cluster(): { create: (self: NodeSpec) => Membership; cleanup: () => Promise<void> };
}

export const MEMORY: MembershipKind = {
  name: 'MemoryMembership',
  cluster() {
    const bus = new MemoryBus();
    return { create: (self) => new MemoryMembership({ bus, self }), cleanup: async () => {} };
  },
};

/** Real Redis (REDIS_URL or 127.0.0.1:6379); a cluster name per test cluster, whose snapshot is deleted afterwards. */
export const REDIS: MembershipKind = {
  name: 'RedisMembership',
  cluster() {
    const name = `express-test-${randomUUID()}`;
    return {
      create: (self) => new RedisMembership({ redis: REDIS_URL, cluster: name, self, syncInterval: 100 }),
      cleanup: async () => {
        const redis = new Redis(REDIS_URL);
        try {
          await redis.del(`ringroute:${name}`);
        } finally {
          redis.disconnect();
        }
      },
    };
  },
};

export const MEMBERSHIP_KINDS = [MEMORY, REDIS] as const;
