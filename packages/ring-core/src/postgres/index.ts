export { postgresPersist, type PostgresPersistOptions } from '../persist/postgres-store.js';
