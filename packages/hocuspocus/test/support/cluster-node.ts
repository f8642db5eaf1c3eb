/**
 * One cluster node as a child process (so a test can kill -9 it): a Hocuspocus server with SmartRoute over
 * Redis and PostgreSQL persistence, or (peer 'extension-redis') the same server with @hocuspocus/extension-redis
 * instead. Configured by the RINGROUTE_NODE environment variable (JSON); reports { ready, cpu } over IPC, then
 * { cpu } every 200 ms (process.cpuUsage(), µs: a parent measuring CPU keeps the last report of a node killed or
 * paused); on { leave } (or SIGTERM / SIGINT) it leaves gracefully (handover) and exits; { documents: n } asks for
 * the names of the documents loaded now.
 */
import type { NodeConfig } from './cluster.js';
import { startNode, startRedisPeerNode } from './node.js';

const config = JSON.parse(process.env.RINGROUTE_NODE ?? '') as NodeConfig & { id: string; port: number };
const node =
  config.peer === 'extension-redis'
    ? await startRedisPeerNode(config.id, config.port, config.table, config.redis, config.cluster)
    : await startNode(config.id, config.port, config.table, {
        redis: config.redis,
        cluster: config.cluster,
        syncInterval: config.syncInterval,
        failureTimeout: config.failureTimeout,
        migrationTimeout: config.migrationTimeout,
        maxConcurrentHandovers: config.maxConcurrentHandovers,
        secret: config.secret,
        ...(config.misroute ? { misroute: config.misroute, redirectOnMisroute: undefined } : {}),
        leaveOnSignals: true, // the default: SIGINT and SIGTERM leave gracefully, then the process ends
        debugMode: process.env.RINGROUTE_DEBUG === '1',
      });
const cpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
process.send?.({ ready: true, cpu: cpu() });
setInterval(() => process.send?.({ cpu: cpu() }), 200).unref();
process.on('message', (message: { leave?: boolean; documents?: number }) => {
  // The documents loaded here now (a test watching for duplicate owners), answered with the request's number.
  if (message.documents !== undefined)
    return void process.send?.({ documents: message.documents, names: [...node.server.hocuspocus.documents.keys()] });
  if (!message.leave) return;
  void node.stop().finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0)); // the test runner went away
