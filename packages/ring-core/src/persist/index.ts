export type { PersistEntry, PersistStore } from './types.js';
export { Persister, type PersisterHooks, type PersisterStats, type PersistOptions } from './persister.js';
