import { checkKnownOptions, checkNumber, checkOneOf, checkString, fail } from '../errors.js';
import type { NodeSpec, NodeStatus, RingNode } from '../types.js';

export const NODE_STATUSES: readonly NodeStatus[] = ['alive', 'suspected', 'dead', 'leaving', 'updating'];

/** States that may own keys when a node is picked. Suspected nodes keep their keys until declared dead. */
const ROUTABLE: ReadonlySet<NodeStatus> = new Set(['alive', 'suspected', 'updating']);

export const isRoutable = (node: RingNode): boolean => ROUTABLE.has(node.status) && node.weight > 0;

/** Ids become object keys (pins, stats) and log fields: no prototype names, no control characters, bounded. */
const MAX_ID_LENGTH = 256;
const RESERVED_IDS = new Set(['__proto__', 'constructor', 'prototype']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const NODE_SPEC_FIELDS = Object.keys({ id: 1, url: 1, weight: 1, status: 1, meta: 1, server: 1, serverId: 1 } satisfies Record<
  keyof NodeSpec,
  1
>);
/** Redirects and proxies go to node URLs: only web schemes (never `javascript:` or `file:`). */
const URL_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

/**
 * The stricter check for nodes that requests are sent to (the adapters' `nodes` option and the admin add-node
 * route): no unknown fields, bounded ids that are safe as object keys, and web URLs only. Rings themselves accept any id and URL
 * (a membership may probe `tcp://` members).
 */
export function checkRoutedNode(spec: NodeSpec, field: string): RingNode {
  const node = resolveNode(spec, field);
  checkKnownOptions(spec, NODE_SPEC_FIELDS, field);
  if (node.id.length > MAX_ID_LENGTH) fail(`${field}.id`, `must be at most ${MAX_ID_LENGTH} characters (got ${node.id.length})`);
  if (RESERVED_IDS.has(node.id)) fail(`${field}.id`, `${JSON.stringify(node.id)} is reserved`);
  if (CONTROL.test(node.id)) fail(`${field}.id`, 'must not contain control characters');
  if (node.url !== undefined && !URL_SCHEMES.has(new URL(node.url).protocol))
    fail(`${field}.url`, `must be an http, https, ws or wss URL (got ${JSON.stringify(node.url.slice(0, 100))})`);
  return node;
}

/** Validates one spec and resolves its defaults; `field` prefixes error messages, e.g. `nodes[3]`. */
export function resolveNode(spec: NodeSpec, field: string, previous?: RingNode, now = Date.now()): RingNode {
  if (spec === null || typeof spec !== 'object') fail(field, 'must be an object with an id');
  const id = checkString(`${field}.id`, spec.id);
  const weight = spec.weight === undefined ? 1 : checkNumber(`${field}.weight`, spec.weight, { min: 0, max: 1e6 });
  if (!Number.isFinite(weight)) fail(`${field}.weight`, 'must be finite');
  const status = spec.status === undefined ? 'alive' : checkOneOf(`${field}.status`, spec.status, NODE_STATUSES);
  if (spec.url !== undefined) {
    checkString(`${field}.url`, spec.url);
    if (!URL.canParse(spec.url)) fail(`${field}.url`, `must be an absolute URL (got ${JSON.stringify(spec.url.slice(0, 100))})`);
  }
  if (spec.meta !== undefined && (spec.meta === null || typeof spec.meta !== 'object')) fail(`${field}.meta`, 'must be an object');
  const server = spec.server === undefined ? undefined : checkString(`${field}.server`, spec.server);
  if (server !== undefined && /\s/.test(server)) fail(`${field}.server`, `must not contain whitespace (got ${JSON.stringify(server)})`);
  const serverId =
    spec.serverId === undefined ? undefined : checkNumber(`${field}.serverId`, spec.serverId, { min: 1, max: 0xfffff, integer: true });
  const since = previous && previous.status === status ? previous.since : previous ? now : 0;
  return Object.freeze({ id, url: spec.url, weight, status, meta: spec.meta, since, server, serverId });
}

/** Resolves a member list, rejecting duplicate ids, and sorts it by id so every router agrees on order. */
export function resolveNodes(specs: readonly NodeSpec[], field = 'nodes'): RingNode[] {
  if (!Array.isArray(specs)) fail(field, 'must be an array of node specs');
  const seen = new Set<string>();
  const nodes = specs.map((spec, i) => {
    const node = resolveNode(spec, `${field}[${i}]`);
    if (seen.has(node.id)) fail(`${field}[${i}].id`, `duplicate node id ${JSON.stringify(node.id)}`);
    seen.add(node.id);
    return node;
  });
  return nodes.sort(byId);
}

export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function toSpec(node: RingNode): NodeSpec {
  const spec: NodeSpec = { id: node.id, weight: node.weight, status: node.status };
  if (node.url !== undefined) spec.url = node.url;
  if (node.meta !== undefined) spec.meta = { ...node.meta };
  if (node.server !== undefined) spec.server = node.server;
  if (node.serverId !== undefined) spec.serverId = node.serverId;
  return spec;
}
