import { fail } from '../errors.js';
import type { RingNode } from '../types.js';

/** Names a member in errors by id: members are sorted by id, so the caller's array index would mislead. */
export const memberField = (node: RingNode, name: string) => `nodes[id=${JSON.stringify(node.id)}].${name}`;

/** Proxies take integer weights only; 0 (draining) keeps a member without points, as a `down` server. */
export function integerWeight(node: RingNode, strategy: string, max: number): number {
  if (!Number.isInteger(node.weight) || node.weight > max)
    fail(memberField(node, 'weight'), `strategy '${strategy}' needs an integer weight from 0 to ${max} (got ${node.weight})`);
  return node.weight;
}

/** nginx's server address: the `server` option, else host[:port] of the url (URL drops a default port, as nginx's `server` line would). */
export function serverAddress(node: RingNode): string {
  if (node.server !== undefined) return node.server;
  if (node.url === undefined) fail(memberField(node, 'server'), "strategy 'nginx' needs a server address or a url on every node");
  return new URL(node.url).host;
}
