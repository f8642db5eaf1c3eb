import { MemoryMembership } from '@ringroute/ring-core';
import { logMembership } from '@ringroute/ring-core/http';
import { describe, expect, it } from 'vitest';

describe('logMembership', () => {
  it('logs node status changes through the logger until stopped', async () => {
    const membership = new MemoryMembership({ self: { id: 'a', url: 'http://127.0.0.1:1' } });
    await membership.start();
    // An admin-added node: no member of its own to refute a status change.
    await membership.add({ id: 'b', url: 'http://127.0.0.1:2' });
    const lines: { level: string; details: object; message: string }[] = [];
    const stop = logMembership(membership, {
      info: (details, message) => lines.push({ level: 'info', details, message }),
      warn: (details, message) => lines.push({ level: 'warn', details, message }),
    });

    await membership.update('b', { status: 'dead' });
    expect(lines).toEqual([
      { level: 'info', details: { node: 'b', from: 'alive', to: 'dead' }, message: 'ringroute: node status changed' },
    ]);

    stop();
    await membership.update('b', { status: 'alive' });
    expect(lines).toHaveLength(1);
    await membership.stop();
  });
});
