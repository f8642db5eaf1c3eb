import type { Registry } from 'prom-client';
import { checkKnownOptions, checkNumber, checkOneOf, checkString, fail } from '../errors.js';
import type { StaticMembershipOptions } from '../membership/static.js';
import type { Membership } from '../membership/types.js';
import { checkRoutedNode } from '../ring/nodes.js';
import { DEFAULT_MAX_HOPS, type MisroutePolicy } from '../routing/decide.js';
import type { NodeSpec } from '../types.js';
import { resolveOwnedStateOptions, type OwnedStateOptions } from '../owned/options.js';
import type { HttpAnswer } from './answers.js';
import { resolveEjection, type EjectionOptions, type ResolvedEjection } from './ejection.js';
import type { ProxyErrorInfo } from './proxy.js';
import { compileKey, type KeyExtractor, type KeySource, type RequestView } from './request.js';

/** Shapes the answer when proxying fails; return undefined to keep the default (503 + Retry-After). */
export type ProxyErrorHook = (info: ProxyErrorInfo) => Partial<HttpAnswer> | undefined | void;

/** Options both adapters accept (each adds its own framework-specific ones). */
export interface RouterOptions<Req = RequestView> {
  /** A started or unstarted membership. Exactly one of `membership` and `nodes`. */
  membership?: Membership;
  /** A fixed node list: the router builds (and owns) a StaticMembership from it. */
  nodes?: readonly NodeSpec[];
  /** Health checks of the other `nodes` (StaticMembership's `healthCheck`). */
  healthCheck?: StaticMembershipOptions['healthCheck'];
  /** This node's id in the ring. Default: the membership's own node (`membership.self.id`); required with `nodes`. */
  self?: string;
  /** Where the routing key comes from. */
  key: KeySource<Req>;
  /** false = annotate only: every request is handled here, with its owner reported. Default true. */
  enforceRouting?: boolean;
  /** What to do with a request another node owns. Default 'redirect'. */
  misroute?: MisroutePolicy;
  /** Default 307 (method and body kept, not cached); 308 is the permanent variant. */
  redirectStatus?: 307 | 308;
  /** A request that has made this many hops gets 508 instead of being forwarded again. Default 3. */
  maxHops?: number;
  /** Longer keys get 414 (in the URI), 431 (header, cookie) or 400 (key function). Default 512 characters. */
  maxKeyLength?: number;
  /** Retry-After seconds on 503 (no owner, or the owner could not be reached). Default 1. */
  retryAfter?: number;
  /** Path prefix of the monitoring and admin routes, e.g. '/ringroute'. Default '' (routes at the root). */
  prefix?: string;
  /** Bearer token for the admin routes (add/remove node, pin key). Admin routes are off without it. */
  adminToken?: string;
  /** Stop (leave) the membership when the server closes. Default true. */
  leaveOnClose?: boolean;
  onProxyError?: ProxyErrorHook;
  /** Passive health in proxy mode: consecutive failures eject an owner locally until a probe passes. false = off. */
  ejection?: EjectionOptions | false;
  /** A prom-client Registry (the app's own) to put the `ringroute_` metrics in. Default: a registry of their own. */
  registry?: Registry;
  /** Proxy mode (HTTP and upgrades): ms to connect to an owner, and to wait for its headers or next body chunk. */
  proxyTimeouts?: ProxyTimeouts;
  /** Owned state (`state()` / `adopt()`): how keys move between nodes, and `persist` for crashes. */
  state?: OwnedStateOptions;
}

export interface ProxyTimeouts {
  /** ms to open a connection to the owner before trying the next candidate. Default 2000. */
  connect?: number;
  /** ms to wait for the owner's response headers (an upgrade's answer), and between body chunks. Default 30000. */
  response?: number;
}

export const DEFAULT_PROXY_TIMEOUTS: Readonly<Required<ProxyTimeouts>> = Object.freeze({ connect: 2000, response: 30_000 });

/** Every option of RouterOptions: unknown ones are refused with a suggestion. */
export const ROUTER_OPTIONS = [
  'membership',
  'nodes',
  'healthCheck',
  'self',
  'key',
  'enforceRouting',
  'misroute',
  'redirectStatus',
  'maxHops',
  'maxKeyLength',
  'retryAfter',
  'prefix',
  'adminToken',
  'leaveOnClose',
  'onProxyError',
  'ejection',
  'registry',
  'proxyTimeouts',
  'state',
] as const;

export interface ResolvedRouterOptions<Req> {
  membership: Membership | undefined;
  nodes: readonly NodeSpec[] | undefined;
  self: string;
  key: KeyExtractor<Req>;
  enforceRouting: boolean;
  misroute: MisroutePolicy;
  redirectStatus: 307 | 308;
  maxHops: number;
  maxKeyLength: number;
  retryAfter: number;
  prefix: string;
  adminToken: string | undefined;
  leaveOnClose: boolean;
  onProxyError: ProxyErrorHook | undefined;
  ejection: ResolvedEjection | undefined;
  registry: Registry | undefined;
  proxyTimeouts: Required<ProxyTimeouts>;
  state: OwnedStateOptions | undefined;
}

function redirectStatus(value: unknown): 307 | 308 {
  if (value === undefined) return 307;
  if (value !== 307 && value !== 308) fail('redirectStatus', `must be 307 or 308 (got ${String(value)})`);
  return value;
}

const MEMBERSHIP_METHODS = ['start', 'stop', 'on', 'off'] as const;

/** Validates adapter options at construction; every error names its option. */
export function resolveRouterOptions<Req extends object>(
  options: RouterOptions<Req>,
  adapterOptions: readonly string[] = [],
): ResolvedRouterOptions<Req> {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object');
  checkKnownOptions(options, [...ROUTER_OPTIONS, ...adapterOptions]);
  const { membership, nodes } = options;
  if ((membership === undefined) === (nodes === undefined)) fail('membership', 'give exactly one of `membership` and `nodes`');
  if (membership !== undefined) {
    if (membership === null || typeof membership !== 'object') fail('membership', 'must be a Membership');
    for (const method of MEMBERSHIP_METHODS)
      if (typeof membership[method] !== 'function') fail('membership', `must be a Membership (no ${method}() method)`);
  }
  if (nodes !== undefined && !Array.isArray(nodes)) fail('nodes', 'must be an array of node specs');
  if (nodes?.length === 0) fail('nodes', "must list at least one node (this node's own { id, url } included)");
  nodes?.forEach((spec, i) => checkRoutedNode(spec, `nodes[${i}]`));
  if (options.healthCheck !== undefined && nodes === undefined)
    fail('healthCheck', 'only applies to `nodes` (a membership brings its own)');
  const prefix = options.prefix === undefined ? '' : checkString('prefix', options.prefix, { allowEmpty: true });
  if (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/')))
    fail('prefix', `must start with "/" and not end with one (got ${JSON.stringify(prefix)})`);
  const adminToken = options.adminToken === undefined ? undefined : checkString('adminToken', options.adminToken);
  if (adminToken !== undefined && adminToken.length < 16) fail('adminToken', 'must be at least 16 characters');
  if (options.onProxyError !== undefined && typeof options.onProxyError !== 'function') fail('onProxyError', 'must be a function');
  const bool = (name: 'enforceRouting' | 'leaveOnClose', value: unknown): boolean => {
    if (value === undefined) return true;
    if (typeof value !== 'boolean') fail(name, `must be a boolean (got ${String(value)})`);
    return value;
  };
  return {
    membership,
    nodes,
    self: checkString('self', options.self ?? membership?.self?.id),
    key: compileKey<Req>(options.key, 'key'),
    enforceRouting: bool('enforceRouting', options.enforceRouting),
    misroute:
      options.misroute === undefined ? 'redirect' : checkOneOf('misroute', options.misroute, ['redirect', 'proxy', 'refuse'] as const),
    redirectStatus: redirectStatus(options.redirectStatus),
    maxHops:
      options.maxHops === undefined ? DEFAULT_MAX_HOPS : checkNumber('maxHops', options.maxHops, { min: 1, max: 100, integer: true }),
    maxKeyLength:
      options.maxKeyLength === undefined ? 512 : checkNumber('maxKeyLength', options.maxKeyLength, { min: 1, max: 65_536, integer: true }),
    retryAfter:
      options.retryAfter === undefined ? 1 : checkNumber('retryAfter', options.retryAfter, { min: 0, max: 86_400, integer: true }),
    prefix,
    adminToken,
    leaveOnClose: bool('leaveOnClose', options.leaveOnClose),
    onProxyError: options.onProxyError,
    ejection: resolveEjection(options.ejection),
    registry: checkRegistry(options.registry),
    proxyTimeouts: resolveProxyTimeouts(options.proxyTimeouts),
    // Checked now (errors name `state.<option>`; the router checks `state.persist` as it starts the engine).
    state: (resolveOwnedStateOptions(options.state), options.state),
  };
}

function resolveProxyTimeouts(value: ProxyTimeouts | undefined): Required<ProxyTimeouts> {
  if (value === undefined) return DEFAULT_PROXY_TIMEOUTS;
  if (value === null || typeof value !== 'object') fail('proxyTimeouts', 'must be an object { connect?, response? }');
  checkKnownOptions(value, ['connect', 'response'], 'proxyTimeouts');
  const ms = (name: keyof ProxyTimeouts) =>
    value[name] === undefined
      ? DEFAULT_PROXY_TIMEOUTS[name]
      : checkNumber(`proxyTimeouts.${name}`, value[name], { min: 1, max: 3_600_000, integer: true });
  return { connect: ms('connect'), response: ms('response') };
}

function checkRegistry(registry: unknown): Registry | undefined {
  if (registry === undefined) return undefined;
  const r = registry as Partial<Registry> | null;
  if (r === null || typeof r !== 'object' || typeof r.registerMetric !== 'function' || typeof r.metrics !== 'function')
    fail('registry', 'must be a prom-client Registry (e.g. `new Registry()` or `register`)');
  return registry as Registry;
}
