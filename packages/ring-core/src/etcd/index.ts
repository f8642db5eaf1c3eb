export { EtcdMembership, type EtcdMembershipOptions } from './membership.js';
