import { connect } from 'node:net';
import type { Probe } from '../health/http.js';

/** Healthy when a TCP connection to the node's url host and port opens (the seed's "TCP ping"). Node only. */
export function tcpProbe(): Probe {
  return (node, signal) =>
    new Promise<void>((resolve, reject) => {
      const url = new URL(node.url!);
      const port = Number(url.port) || (url.protocol === 'https:' || url.protocol === 'wss:' ? 443 : 80);
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, signal });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (error) => {
        socket.destroy();
        reject(error);
      });
    });
}
