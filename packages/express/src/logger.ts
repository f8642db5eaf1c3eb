import { fail } from '@ringroute/ring-core';

/**
 * Where RingRoute logs. Called as `logger.warn(details, message)`, which suits pino, bunyan, winston's child
 * loggers and `console` alike. The default is silent, like Express itself.
 */
export interface RingRouteLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

const SILENT: RingRouteLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Validates the `logger` option (errors name it). */
export function checkLogger(logger: unknown): RingRouteLogger {
  if (logger === undefined) return SILENT;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (logger === null || typeof logger !== 'object' || methods.some((m) => typeof (logger as Record<string, unknown>)[m] !== 'function'))
    fail('logger', 'must have debug(), info(), warn() and error() methods (pino and console do)');
  return logger as RingRouteLogger;
}
