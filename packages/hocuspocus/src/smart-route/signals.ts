const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Leaves the cluster on SIGINT and SIGTERM (Ctrl-C must not act as a crash). Once the leave is done, a signal
 * nobody else listens to is raised again so the process ends as it would have; when Hocuspocus (`stopOnSignals`)
 * or the app listens too, ending the process is theirs. Returns the function that removes the handlers.
 */
export function onLeaveSignals(leave: () => Promise<void>): () => void {
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      void leave().finally(() => {
        stop();
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const stop = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return stop;
}
