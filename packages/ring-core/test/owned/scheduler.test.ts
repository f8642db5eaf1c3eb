import { describe, expect, it } from 'vitest';
import { HandoffScheduler, type Outcome } from '@ringroute/ring-core/owned';

/** A run whose batches stay open until the test settles them. */
function gatedRun() {
  const batches: { keys: string[]; group: string | undefined; settle: (outcomes: Outcome[]) => void }[] = [];
  const run = (keys: string[], group: string | undefined) =>
    new Promise<Outcome[]>((resolve) => batches.push({ keys, group, settle: resolve }));
  return { batches, run };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('HandoffScheduler', () => {
  it('runs at most `concurrency` batches of `batchSize` keys of one group, in order, and counts progress', async () => {
    const { batches, run } = gatedRun();
    const scheduler = new HandoffScheduler<string>({ concurrency: 2, batchSize: 2, group: (key) => key[0], run });
    const settled = ['a1', 'b1', 'a2', 'a3', 'b2'].map((key) => scheduler.schedule(key));
    await tick();
    expect(batches.map((b) => [b.group, b.keys])).toEqual([
      ['a', ['a1', 'a2']],
      ['b', ['b1', 'b2']],
    ]);
    expect(scheduler.progress()).toEqual({ pending: 1, moving: 4, done: 0, failed: 0 });
    batches[0]!.settle(['done', 'done']);
    await tick();
    expect(batches[2]!.keys).toEqual(['a3']);
    batches[1]!.settle(['done', 'cancelled']);
    batches[2]!.settle(['done']);
    expect(await Promise.all(settled)).toEqual(['done', 'done', 'done', 'done', 'cancelled']);
    expect(scheduler.progress()).toEqual({ pending: 0, moving: 0, done: 4, failed: 0 });
  });

  it('an urgent key jumps the queue and starts beyond the bound', async () => {
    const { batches, run } = gatedRun();
    const scheduler = new HandoffScheduler<string>({ concurrency: 1, run });
    for (const key of ['k1', 'k2', 'k3']) void scheduler.schedule(key);
    void scheduler.schedule('k3', true);
    await tick();
    // k3 started at once, k1 in the one bounded slot; k2 waits.
    expect(batches.map((b) => b.keys)).toEqual([['k3'], ['k1']]);
    expect(scheduler.progress()).toMatchObject({ pending: 1, moving: 2 });
  });

  it('a failed attempt is retried after a backoff and counted; requeue and cancel are not counted', async () => {
    const { batches, run } = gatedRun();
    const scheduler = new HandoffScheduler<string>({ concurrency: 1, run, backoff: () => 5 });
    const settled = scheduler.schedule('k');
    await tick();
    batches[0]!.settle(['retry']);
    await tick();
    expect(scheduler.progress()).toMatchObject({ pending: 1, moving: 0, failed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches).toHaveLength(2);
    batches[1]!.settle(['requeue']);
    await tick();
    expect(batches).toHaveLength(3);
    batches[2]!.settle(['done']);
    expect(await settled).toBe('done');
    expect(scheduler.progress()).toEqual({ pending: 0, moving: 0, done: 1, failed: 1 });

    void scheduler.schedule('x');
    await tick();
    expect(scheduler.cancel('x')).toBe(false); // already running
    void scheduler.schedule('y');
    expect(scheduler.cancel('y')).toBe(true);
    expect(await scheduler.settled('y')).toBeUndefined();
  });

  it('keys without a group wait until regroup() gives them one; idle() resolves when nothing is left', async () => {
    const { batches, run } = gatedRun();
    const owner: { id?: string } = {};
    const scheduler = new HandoffScheduler<string>({ concurrency: 4, run, group: () => owner.id });
    void scheduler.schedule('k');
    let idle = false;
    void scheduler.idle().then(() => (idle = true));
    await tick();
    expect(batches).toHaveLength(0);
    owner.id = 'n2';
    scheduler.regroup();
    await tick();
    expect(batches[0]!.group).toBe('n2');
    expect(idle).toBe(false);
    batches[0]!.settle(['done']);
    await tick();
    expect(idle).toBe(true);
  });

  it('a run that throws counts every key of the batch as a failed attempt, to retry', async () => {
    let calls = 0;
    const scheduler = new HandoffScheduler<string>({
      concurrency: 1,
      backoff: () => 1,
      run: async (keys) => {
        if (calls++ === 0) throw new Error('network');
        return keys.map(() => 'done' as const);
      },
    });
    expect(await scheduler.schedule('k')).toBe('done');
    expect(scheduler.progress()).toMatchObject({ done: 1, failed: 1 });
  });
});
