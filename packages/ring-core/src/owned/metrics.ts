import { Counter, Gauge, type Registry } from 'prom-client';
import type { PersistenceStats } from './persist.js';
import type { HandoffProgress } from './types.js';

type Samples = readonly (readonly [Record<string, string>, number])[];

/** The `ringroute_handoff_*`, `ringroute_owned_keys` and `ringroute_persist_*` metrics, read from the engine at scrape time. */
export function registerOwnedMetrics(
  registry: Registry,
  node: string,
  progress: () => HandoffProgress,
  persist: () => PersistenceStats | undefined,
): void {
  const registers = [registry];
  const metric = (Type: typeof Counter | typeof Gauge, name: string, help: string, labels: string[], read: () => Samples) =>
    Type === Counter
      ? new Counter({
          name,
          help,
          labelNames: ['node', ...labels],
          registers,
          collect() {
            this.reset();
            for (const [l, v] of read()) this.inc({ node, ...l }, v);
          },
        })
      : new Gauge({
          name,
          help,
          labelNames: ['node', ...labels],
          registers,
          collect() {
            this.reset();
            for (const [l, v] of read()) this.set({ node, ...l }, v);
          },
        });
  metric(Gauge, 'ringroute_handoff_keys', 'Keys this node is handing over, by state (pending: waiting their turn; moving: being sent).', ['state'], () => {
    const p = progress();
    return [
      [{ state: 'pending' }, p.pending],
      [{ state: 'moving' }, p.moving],
    ];
  });
  metric(
    Counter,
    'ringroute_handoff_keys_total',
    'Keys by handoff outcome: done (handed over, confirmed), failed (attempts, retried), received, pulled (before their turn), dropped (lost by this node), started_empty (previous owner crashed, no persist), loaded (from persist).',
    ['outcome'],
    () => {
      const p = progress();
      return [
        [{ outcome: 'done' }, p.done],
        [{ outcome: 'failed' }, p.failed],
        [{ outcome: 'received' }, p.received],
        [{ outcome: 'pulled' }, p.pulled],
        [{ outcome: 'dropped' }, p.dropped],
        [{ outcome: 'started_empty' }, p.startedEmpty],
        [{ outcome: 'loaded' }, p.loaded],
      ];
    },
  );
  metric(Counter, 'ringroute_handoff_bytes_total', 'Bytes of owned state handed over (sent) and taken over (received).', ['direction'], () => {
    const p = progress();
    return [
      [{ direction: 'sent' }, p.bytes],
      [{ direction: 'received' }, p.receivedBytes],
    ];
  });
  metric(Gauge, 'ringroute_owned_keys', 'Keys of owned state held on this node, by named state.', ['name'], () =>
    Object.entries(progress().held).map(([name, n]) => [{ name }, n]),
  );
  metric(Counter, 'ringroute_persist_commands_total', 'Round trips to the persist store.', [], () => {
    const stats = persist();
    return stats ? [[{}, stats.commands]] : [];
  });
  metric(Counter, 'ringroute_persist_fenced_total', 'Persist writes the store refused: a newer owner holds the key.', [], () => {
    const stats = persist();
    return stats ? [[{}, stats.fenced]] : [];
  });
  metric(Gauge, 'ringroute_persist_pending', "Writes not yet in the persist store ('behind').", [], () => {
    const stats = persist();
    return stats ? [[{}, stats.pending]] : [];
  });
}
