export type * from './types.js';
export { checkKnownOptions, checkNumber, checkOneOf, checkString, fail, RingRouteConfigError } from './errors.js';
export { crc32, djb2, fullHash, murmur3, loadHash, sdbm, wt6 } from './hash/index.js';
export { checkLogger, SILENT_LOGGER, type RingRouteLogger } from './log.js';
export { TypedEmitter, type EventListeners, type PayloadListeners } from './events/emitter.js';
export { reportUnhandled } from './events/report.js';
export { createRing, ringFromJSON } from './ring/ring.js';
export { isRoutable, NODE_STATUSES } from './ring/nodes.js';
export {
  decide,
  DEFAULT_MAX_HOPS,
  type DecideOptions,
  type DecisionReason,
  type MisroutePolicy,
  type RoutingAction,
  type RoutingDecision,
} from './routing/decide.js';
export {
  createSelector,
  LoadTracker,
  SELECTION_STRATEGIES,
  type Lease,
  type SelectionStrategy,
  type Selector,
  type SelectorOptions,
} from './select/index.js';
export { analyzeDistribution, measureMovement, type Distribution, type Movement, type NodeLoad } from './analysis/index.js';
export {
  DROP_REASONS,
  MemoryBus,
  MemoryMembership,
  StaticMembership,
  type ClusterMessage,
  type DropReason,
  type LeaveReason,
  type Membership,
  type MembershipEvent,
  type MembershipEvents,
  type MembershipStats,
  type MessageSigner,
  type MemoryMembershipOptions,
  type RingParams,
  type StaticMembershipOptions,
} from './membership/index.js';
export { HealthChecker, httpProbe, type HealthCheckOptions, type Probe, type ProbeVerdict } from './health/index.js';
export type { PersistEntry, PersistOptions, PersistStore } from './persist/index.js';
