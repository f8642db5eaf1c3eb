/**
 * A Hocuspocus server with SmartRoute over Redis in a process of its own, written as an app writes it: the test
 * starts it before its Redis. Configured by RINGROUTE_NODE (JSON: port, redis, cluster); prints `joined` once
 * `server.listen()` resolved.
 */
import { SmartRoute } from '../../src/index.js';
import { Server } from './hocuspocus.js';

const { port, redis, cluster } = JSON.parse(process.env.RINGROUTE_NODE ?? '') as { port: number; redis: string; cluster: string };
const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SmartRoute({ nodeId: 'n0', nodePort: port, redis, cluster, secret: 'store-away-secret' })],
});
await server.listen(); // resolves once the node has joined the cluster
process.stdout.write('joined\n');
