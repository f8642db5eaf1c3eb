/**
 * `@ringroute/ring-core/owned`: per-key state that follows its owner through every ring change (Node-only). The
 * adapters expose it as `app.ringRoute.state()` (Fastify) and `rr.state()` (Express); `router.owned` is the engine.
 */
export { OwnedState, SETTLED, type OwnedStateDeps } from './engine.js';
export { KeyedState, AdoptedState } from './keyed.js';
export { StateUnavailableError, StateTooLargeError } from './errors.js';
export { jsonCodec } from './codec.js';
export { HandoffScheduler, type Outcome, type SchedulerOptions, type SchedulerProgress } from './scheduler.js';
export { Lease } from './lease.js';
export { OWNED_STATE_OPTIONS, type OwnedStateOptions } from './options.js';
export type { Persistence, PersistenceStats } from './persist.js';
export { PULL_PATH, PUSH_PATH } from './transport.js';
export type {
  Custody,
  DroppedEvent,
  HandoffProgress,
  KeyCustody,
  KeyedStateOptions,
  MovedEvent,
  OwnedStateEvents,
  ReceivedEvent,
  StartedEmptyEvent,
  StateCodec,
  StatePort,
} from './types.js';
