/**
 * A child process of bench/upgrade.ts. BENCH_ROLE=owner: a `ws` echo server. BENCH_ROLE=proxy: a plain Node server
 * whose 'upgrade' listener forwards every handshake to BENCH_TARGET with proxyUpgrade(). Prints its URL, answers
 * 'cpu' messages with its CPU time.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { proxyUpgrade, writeUpgradeAnswer } from '@ringroute/ring-core/node';

const server = createServer((_req, res) => res.writeHead(404).end());
if (process.env.BENCH_ROLE === 'owner') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
} else {
  const target = process.env.BENCH_TARGET!;
  server.on('upgrade', (req, socket, head) => {
    void proxyUpgrade(req, socket, head, `${target}${req.url}`, { 'x-ringroute-hops': '1' }).then((result) => {
      if (!result.sent) writeUpgradeAnswer(socket, { status: 502, headers: {}, body: result.error.message });
    });
  });
}
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('message', () => {
  const { user, system } = process.cpuUsage();
  process.send!({ cpuMicros: user + system });
});
process.on('disconnect', () => process.exit(0));
