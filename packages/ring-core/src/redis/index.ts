export { RedisMembership, type RedisMembershipOptions } from './membership.js';
export type { RedisClusterConfig } from './connection.js';
export { redisPersist, type RedisPersistOptions } from '../persist/redis-store.js';
