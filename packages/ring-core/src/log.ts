import { fail } from './errors.js';

/**
 * Where RingRoute logs. Called as `logger.warn(details, message)`, which suits pino, bunyan, winston's child
 * loggers and `console` alike.
 */
export interface RingRouteLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export const SILENT_LOGGER: RingRouteLogger = { debug() {}, info() {}, warn() {}, error() {} };

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Validates an app's logger option (undefined gives `fallback`); the error names `option`. */
export function checkLogger(value: unknown, fallback: RingRouteLogger = SILENT_LOGGER, option = 'logger'): RingRouteLogger {
  if (value === undefined) return fallback;
  if (
    value === null ||
    typeof value !== 'object' ||
    LEVELS.some((level) => typeof (value as Record<string, unknown>)[level] !== 'function')
  )
    fail(option, 'must have debug(), info(), warn() and error() methods (pino and console do)');
  return value as RingRouteLogger;
}

/** A logger that forwards to whatever `target()` returns at the time of each call (a logger known only later). */
export function forwardingLogger(target: () => RingRouteLogger): RingRouteLogger {
  return {
    debug: (details, message) => target().debug(details, message),
    info: (details, message) => target().info(details, message),
    warn: (details, message) => target().warn(details, message),
    error: (details, message) => target().error(details, message),
  };
}
