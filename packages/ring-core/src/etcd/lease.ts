import { EtcdLeaseInvalidError, type Lease, type Namespace } from 'etcd3';

/**
 * This member's lease: a key put through it vanishes when the member stops renewing it, so a crashed member's
 * heartbeat is gone one TTL later without anyone deleting it. etcd3 renews it every TTL / 3 on its own. It is granted
 * on first use and granted again when lost (etcd forgot it, or this client was cut off for longer than 2 x TTL); the
 * new lease overwrites the key, so its readers see a put, never a delete. etcd keeps leases across a restart and
 * renews them all when it is back, so a short outage costs no one their key.
 */
export class MemberLease {
  private lease: Lease | undefined;
  private ttl = 0;

  constructor(private readonly ns: Namespace) {}

  /** Puts `key` = `value` under the lease, whose TTL is `ttl` ms rounded up to whole seconds (etcd's unit). */
  async put(key: string, value: string, ttl: number): Promise<void> {
    const lease = this.current(Math.max(1, Math.ceil(ttl / 1000)));
    try {
      await lease.put(key).value(value);
    } catch (error) {
      if (!(error instanceof EtcdLeaseInvalidError)) throw error;
      this.forget(lease); // expired while this member could not renew it: the next beat grants a new one
      throw error;
    }
  }

  /** Revokes the lease (its keys vanish at once), for a graceful stop. */
  async revoke(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke().catch(() => {});
  }

  private current(ttl: number): Lease {
    if (this.lease && !this.lease.revoked() && this.ttl === ttl) return this.lease;
    if (this.lease) this.forget(this.lease);
    const lease = this.ns.lease(ttl);
    lease.on('lost', () => this.forget(lease));
    this.lease = lease;
    this.ttl = ttl;
    return lease;
  }

  private forget(lease: Lease): void {
    if (this.lease !== lease) return;
    this.lease = undefined;
    lease.release(); // stop renewing; etcd expires it on its own
  }
}
