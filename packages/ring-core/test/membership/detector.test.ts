import { describe, expect, it } from 'vitest';
import { createRing } from '@ringroute/ring-core';
import { FailureDetector } from '../../src/membership/detector.js';

const detection = { syncInterval: 100, heartbeatInterval: 100, failureTimeout: 400 };

describe('FailureDetector', () => {
  it('counts silence only while its own heartbeat reads succeed: a store failing over accuses nobody', async () => {
    const ring = await createRing({ nodes: [{ id: 'a' }, { id: 'b' }] });
    const detector = new FailureDetector(detection, () => {});
    detector.track(new Set(['a', 'b']), 'a', 0);
    const beat = (n: number) => ({ sender: 'b-1', node: 'b', seq: 0, beat: n, sentAt: Date.now() });
    detector.read(['b'], [beat(1)], 0);

    // Reads fail or hang from t=0 on: however long, b's silence is unknown, not proof.
    expect(detector.verdicts(ring, 5_000)).toEqual([]);

    // Reads work again but b's record stays unchanged: now its silence counts, from its last fresh beat.
    detector.read(['b'], [beat(1)], 5_000);
    expect(detector.verdicts(ring, 5_000).map((v) => v.change)).toEqual([{ remove: ['b'], reason: 'failed' }]);
  });
});
