export { RedisMembership, type RedisMembershipOptions } from './membership.js';
export type { RedisClusterConfig } from './connection.js';
