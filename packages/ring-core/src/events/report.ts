interface Host {
  process?: { emitWarning?: (warning: string, options: { type: string; detail?: string }) => void };
  reportError?: (error: unknown) => void;
}

/**
 * Surfaces an error that nobody handles, without throwing: a process warning under Node (stderr, or the app's
 * `process.on('warning')`), `reportError` in a browser (the console and `window.onerror`).
 */
export function reportUnhandled(error: unknown, context: string): void {
  const host = globalThis as Host;
  if (host.process?.emitWarning) {
    const detail = error instanceof Error ? error.stack : undefined;
    host.process.emitWarning(`${context}: ${error instanceof Error ? error.message : String(error)}`, { type: 'RingRouteWarning', detail });
  } else host.reportError?.(error);
}
