import { describe, expect, it } from 'vitest';
import { createRing } from '@ringroute/ring-core';

describe('createRing', () => {
  it('owner is stable, dead nodes hand over only their own keys', async () => {
    const ring = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
    const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
    const dead = ring.with({ update: [{ id: 'b', status: 'dead' }] });
    for (const key of keys) {
      const before = ring.owner(key)!.id;
      const after = dead.owner(key)!.id;
      if (before !== 'b') expect(after).toBe(before);
      else expect(after).not.toBe('b');
    }
    expect(dead.epoch).toBe(1);
    const added = ring.with({ add: [{ id: 'd' }] });
    for (const key of keys) {
      const after = added.owner(key)!.id;
      if (after !== 'd') expect(after).toBe(ring.owner(key)!.id);
    }
    const fresh = await createRing({ nodes: [{ id: 'd' }, { id: 'c' }, { id: 'b' }, { id: 'a' }] });
    expect(fresh.checksum).toBe(added.checksum);
    for (const key of keys) expect(fresh.owner(key)!.id).toBe(added.owner(key)!.id);
    expect([...ring.candidates('x')].map((n) => n.id).sort()).toEqual(['a', 'b', 'c']);
  });
});
