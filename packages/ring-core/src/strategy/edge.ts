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

/** host:port of a member's url, the port spelled out (443 for https/wss, else 80): where a proxy connects. */
export function urlTarget(node: RingNode, option = 'url'): string {
  if (node.url === undefined) fail(memberField(node, option), 'the proxy needs a url to connect to');
  const url = new URL(node.url);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' || url.protocol === 'wss:' ? '443' : '80')}`;
}

/** nginx's server address (what it hashes): the `server` option, else host:port of the url. */
export function serverAddress(node: RingNode): string {
  return node.server ?? urlTarget(node, 'server');
}
