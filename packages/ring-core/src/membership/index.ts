export type {
  ClusterMessage,
  DropReason,
  LeaveReason,
  Membership,
  MembershipLogger,
  MembershipEvent,
  MembershipEvents,
  MembershipStats,
  MessageSigner,
  RingParams,
} from './types.js';
export { DROP_REASONS } from './types.js';
export { MemoryBus, MemoryMembership, type MemoryMembershipOptions } from './memory.js';
export { StaticMembership, type StaticMembershipOptions } from './static.js';
