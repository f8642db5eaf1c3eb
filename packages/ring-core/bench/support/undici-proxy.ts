import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'undici';

/**
 * The leanest proxy, the adapters' benchmark peer: undici's `stream()` to `origin` straight into the raw response,
 * hop-by-hop headers dropped, nothing else (no routing decision, no forwarding headers, no fallback).
 */
export function undiciProxy(origin: string): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  const agent = new Agent();
  return (req, res, path) => {
    const { connection: _connection, host: _host, ...headers } = req.headers;
    agent
      .stream({ origin, path, method: 'GET', headers }, ({ statusCode, headers: upstream }) => {
        const { connection: _connection, 'keep-alive': _keepAlive, 'transfer-encoding': _encoding, ...kept } = upstream;
        res.writeHead(statusCode, kept);
        return res;
      })
      .catch((error: Error) => res.destroy(error));
  };
}
