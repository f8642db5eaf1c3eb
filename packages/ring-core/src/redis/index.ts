export { RedisMembership, type RedisMembershipOptions } from './membership.js';
