import type { Registry } from 'prom-client';
import { collected } from '../http/metrics.js';
import type { PersistenceStats } from './persist.js';
import type { HandoffProgress } from './types.js';

/** The `ringroute_handoff_*`, `ringroute_owned_keys` and `ringroute_persist_*` metrics, read from the engine at scrape time. */
export function registerOwnedMetrics(
  registry: Registry,
  node: string,
  progress: () => HandoffProgress,
  persist: () => PersistenceStats | undefined,
): void {
  const { counter, gauge } = collected(registry, node);
  gauge('ringroute_handoff_keys', 'Keys this node is handing over (pending: waiting their turn; moving: being sent).', ['state'], () => {
    const p = progress();
    return [
      [{ state: 'pending' }, p.pending],
      [{ state: 'moving' }, p.moving],
    ];
  });
  counter(
    'ringroute_handoff_keys_total',
    'Keys by handoff outcome: done (handed over, confirmed), failed (attempts, retried), received, pulled (before their turn), dropped (lost by this node), started_empty (previous owner crashed, no persist), loaded (from persist).',
    ['outcome'],
    () => {
      const p = progress();
      const outcomes = { done: p.done, failed: p.failed, received: p.received, pulled: p.pulled, dropped: p.dropped };
      return Object.entries({ ...outcomes, started_empty: p.startedEmpty, loaded: p.loaded }).map(([outcome, n]) => [{ outcome }, n]);
    },
  );
  counter('ringroute_handoff_bytes_total', 'Bytes of owned state handed over (sent) and taken over (received).', ['direction'], () => {
    const p = progress();
    return [
      [{ direction: 'sent' }, p.bytes],
      [{ direction: 'received' }, p.receivedBytes],
    ];
  });
  gauge('ringroute_owned_keys', 'Keys of owned state held on this node, by named state.', ['name'], () =>
    Object.entries(progress().held).map(([name, n]) => [{ name }, n]),
  );
  const stats = (read: (s: PersistenceStats) => number) => () => {
    const s = persist();
    return s ? ([[{}, read(s)]] as const) : [];
  };
  counter(
    'ringroute_persist_commands_total',
    'Round trips to the persist store.',
    [],
    stats((s) => s.commands),
  );
  counter(
    'ringroute_persist_fenced_total',
    'Persist writes the store refused: a newer owner holds the key.',
    [],
    stats((s) => s.fenced),
  );
  gauge(
    'ringroute_persist_pending',
    "Writes not yet in the persist store ('behind').",
    [],
    stats((s) => s.pending),
  );
}
