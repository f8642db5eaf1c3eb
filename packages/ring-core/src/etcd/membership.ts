import type { Etcd3, IOptions } from 'etcd3';
import { fail } from '../errors.js';
import { retryDelay } from '../membership/retry.js';
import { SharedMembership } from '../membership/shared.js';
import { resolveStoreOptions, type StoreMembershipOptions } from '../membership/store-options.js';
import { EtcdBackend } from './backend.js';
import { createClient } from './client.js';

export interface EtcdMembershipOptions extends StoreMembershipOptions {
  /**
   * etcd endpoints (`'http://127.0.0.1:2379'` or a list), etcd3 client options (`{ hosts, auth, credentials, ... }`),
   * or an existing `Etcd3` client. A client you pass is used as is (its own retry policies) and left open on stop().
   */
  etcd: string | string[] | IOptions | Etcd3;
  /**
   * A member silent this long is suspected; twice as long, removed as failed (ms). Also the TTL of each member's
   * lease, rounded up to whole seconds (etcd raises TTLs below its minimum, about 1.5 s with default timing).
   * Default 5 x heartbeatInterval, at least 2000.
   */
  failureTimeout?: number;
  /** Key prefix: the cluster's keys live under `<prefix>/<cluster>/`. Default 'ringroute'. */
  prefix?: string;
}

/**
 * Membership over etcd v3 (the `etcd3` client): the snapshot under compare-and-set transactions, changes and
 * application messages through a watch (in revision order, resumed after a reconnect), each member's heartbeat
 * under its own lease (TTL = failureTimeout: a crashed member's heartbeat vanishes) with failure detection reading
 * only a few members' heartbeats each, graceful leave, signed and schema-checked messages. etcd is never on the request path: while it is
 * unreachable `degraded` is true, routing continues on the last ring, nobody is evicted, and the ring is
 * resynchronised when etcd returns.
 */
export class EtcdMembership extends SharedMembership {
  /** The key prefix holding this cluster's keys (`<prefix>/<cluster>/`). */
  readonly root: string;

  constructor(options: EtcdMembershipOptions) {
    const { backend, detection, codec } = etcdBackend(options);
    super(backend, { ...options, detection, signer: codec });
    this.root = backend.root;
  }
}

/** Checks the options and builds the transport (connecting later, in start()). Tests use it to reach the backend. */
export function etcdBackend(options: EtcdMembershipOptions) {
  const { cluster, prefix, codec, detection } = resolveStoreOptions(options, {
    connection: 'etcd',
    minFailureTimeout: 1000,
    maxMessageBytes: 1024 * 1024,
  });
  // Reconnect (gRPC and watch) several times per heartbeat, so a member is back well within one heartbeat of etcd.
  const { connect, store } = checkEtcd(options.etcd, retryDelay(detection));
  const backend = new EtcdBackend(connect, store, `${prefix}/${cluster}/`, codec);
  return { backend, detection, codec };
}

/** The etcd option, checked now: `connect` connects later, in start(); `store` names the endpoints in messages. */
function checkEtcd(etcd: EtcdMembershipOptions['etcd'], delay: number): { connect: () => [Etcd3, boolean]; store: string } {
  // Duck-typed: the app's etcd3 may be another copy of the package than ours.
  if (isClient(etcd)) return { connect: () => [etcd, false], store: etcdStore((etcd as unknown as { options?: IOptions }).options?.hosts) };
  if (typeof etcd === 'string' || Array.isArray(etcd)) return checkEtcd({ hosts: etcd }, delay);
  if (etcd === null || typeof etcd !== 'object') fail('etcd', 'must be an endpoint URL, a list of them, etcd3 options or an Etcd3 client');
  const hosts = typeof etcd.hosts === 'string' ? [etcd.hosts] : etcd.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0) fail('etcd.hosts', 'must be an endpoint URL or a non-empty list of them');
  hosts.forEach((host, i) => {
    if (typeof host !== 'string' || !/^https?:\/\//.test(host) || !URL.canParse(host))
      fail(`etcd.hosts[${i}]`, `must be an http:// or https:// URL (got ${JSON.stringify(host)})`);
  });
  return { connect: () => [createClient(etcd, delay), true], store: etcdStore(hosts) };
}

/** 'etcd at http://10.0.0.5:2379, ...' (credentials in a URL left out). */
function etcdStore(hosts: string | string[] | undefined): string {
  const list = (typeof hosts === 'string' ? [hosts] : (hosts ?? [])).map((host) => host.replace(/\/\/[^@/]*@/, '//'));
  return list.length ? `etcd at ${list.join(', ')}` : 'etcd';
}

const isClient = (etcd: unknown): etcd is Etcd3 =>
  typeof etcd === 'object' &&
  etcd !== null &&
  typeof (etcd as Etcd3).namespace === 'function' &&
  typeof (etcd as Etcd3).close === 'function';
