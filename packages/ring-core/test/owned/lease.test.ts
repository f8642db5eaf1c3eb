import { describe, expect, it } from 'vitest';
import { Lease } from '@ringroute/ring-core/owned';

/** Keeps this process from running anything else for `ms`, as a SIGSTOP or a long GC pause would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('Lease', () => {
  it('after a stall longer than half the failure timeout, asks the membership to catch up before the node acts again', async () => {
    let syncs = 0;
    const lease = new Lease({ failureTimeout: 200, sync: async () => void syncs++ });
    lease.start();
    try {
      expect(lease.fresh).toBe(true);
      await lease.confirm();
      expect(syncs).toBe(0);
      stall(250);
      // No timer has run since: the first request after the pause already sees the stall.
      expect(lease.fresh).toBe(false);
      await Promise.all([lease.confirm(), lease.confirm()]);
      expect(syncs).toBe(1);
      expect(lease.fresh).toBe(true);
    } finally {
      lease.stop();
    }
  });

  it('stays unconfirmed while the store cannot be reached', async () => {
    const lease = new Lease({
      failureTimeout: 100,
      sync: async () => {
        throw new Error('store down');
      },
    });
    lease.start();
    try {
      stall(150);
      await expect(lease.confirm()).rejects.toThrow('store down');
      expect(lease.fresh).toBe(false);
    } finally {
      lease.stop();
    }
  });
});
