import { describe, expect, it } from 'vitest';
import { TypedEmitter, type PayloadListeners } from '@ringroute/ring-core';

interface Events {
  change: (from: number, to: number) => void;
  done: () => void;
}

/** An owner that emits, and records what its listeners threw. */
class Counter extends TypedEmitter<Events> {
  readonly failures: [unknown, keyof Events][] = [];

  change(from: number, to: number): boolean {
    return this.emit('change', from, to);
  }

  protected override onListenerError(error: unknown, event: keyof Events): void {
    this.failures.push([error, event]);
  }
}

describe('TypedEmitter', () => {
  it('calls listeners with the emitted arguments, in the order they were added; emit says whether anyone listened', () => {
    const counter = new Counter();
    expect(counter.change(0, 1)).toBe(false);
    const calls: string[] = [];
    const first = (from: number, to: number) => void calls.push(`first ${from}->${to}`);
    const second = (from: number, to: number) => void calls.push(`second ${from}->${to}`);
    expect(counter.on('change', first).on('change', second)).toBe(counter);
    expect(counter.change(1, 2)).toBe(true);
    expect(calls).toEqual(['first 1->2', 'second 1->2']);
  });

  it('counts listeners per event; adding one twice keeps one, off removes it', () => {
    const counter = new Counter();
    const listener = () => {};
    counter.on('change', listener).on('change', listener);
    expect(counter.listenerCount('change')).toBe(1);
    expect(counter.listenerCount('done')).toBe(0);
    expect(counter.off('change', listener).off('done', listener)).toBe(counter);
    expect(counter.listenerCount('change')).toBe(0);
    expect(counter.change(0, 1)).toBe(false);
  });

  it('a throwing listener is reported to onListenerError and the other listeners still run', () => {
    const counter = new Counter();
    const bug = new Error('listener bug');
    const seen: number[] = [];
    counter.on('change', () => {
      throw bug;
    });
    counter.on('change', (_from, to) => void seen.push(to));
    counter.change(0, 7);
    expect(seen).toEqual([7]);
    expect(counter.failures).toEqual([[bug, 'change']]);
  });

  it('a listener that removes itself or adds another during an emit does not change that emit', () => {
    const counter = new Counter();
    const calls: string[] = [];
    const late = () => void calls.push('late');
    const once = () => {
      calls.push('once');
      counter.off('change', once).on('change', late);
    };
    counter.on('change', once);
    counter.change(0, 1);
    expect(calls).toEqual(['once']);
    counter.change(1, 2);
    expect(calls).toEqual(['once', 'late']);
  });

  it('refuses a listener that is not a function, naming the event', () => {
    expect(() => new Counter().on('done', 'nope' as never)).toThrow(/listener for 'done' must be a function/);
  });

  it('PayloadListeners types events that carry one payload each', () => {
    class Uploads extends TypedEmitter<PayloadListeners<{ progress: { done: number; total: number } }>> {
      report(done: number, total: number) {
        this.emit('progress', { done, total });
      }
    }
    const uploads = new Uploads();
    const seen: number[] = [];
    uploads.on('progress', ({ done, total }) => void seen.push(done / total));
    uploads.report(1, 4);
    expect(seen).toEqual([0.25]);
  });
});
