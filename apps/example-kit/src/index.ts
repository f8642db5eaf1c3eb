export { cartStoreReady } from './cart.js';
export { readMisroute, type RedisEnv } from './env.js';
export { freePort, launchExample, type LaunchOptions, type LocalCluster, type NodeSlot } from './launch.js';
export { persistTable, readState } from './persist.js';
