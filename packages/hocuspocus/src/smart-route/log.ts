import type { RingRouteLogger } from '@ringroute/ring-core';

export type Log = RingRouteLogger;

const describe = (details: object): string => {
  const { err, ...rest } = details as { err?: unknown };
  const parts = Object.entries(rest).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  if (err !== undefined) parts.push(`err=${err instanceof Error ? err.message : String(err)}`);
  return parts.join(' ');
};

/**
 * SmartRoute's default logger, for apps that pass none: warnings and errors become Node process warnings (they
 * reach stderr, or the app's `process.on('warning')`), debug and info lines appear only with `debugMode`.
 */
export function defaultLogger(nodeId: string, debugMode: boolean): Log {
  const warn = (details: object, message: string) =>
    process.emitWarning(`[${nodeId}] ${message}`, { type: 'RingRouteWarning', detail: describe(details) });
  const debug = debugMode
    ? (details: object, message: string) => process.stderr.write(`[SmartRoute ${nodeId}] ${message} ${describe(details)}\n`)
    : () => {};
  return { debug, info: debug, warn, error: warn };
}
