import type { FailureDetection } from './detector.js';

/**
 * The longest pause between two attempts to reach a store (ms): a quarter of a heartbeat, between 50 and 500, so a
 * member notices a store that answers again well within one heartbeat. Reconnects of the store's client use it too.
 */
export const retryDelay = (detection: FailureDetection | undefined): number =>
  Math.max(50, Math.min(500, (detection?.heartbeatInterval ?? 2000) / 4));

export interface RetryOptions {
  /** The longest pause between two attempts (ms); pauses double from 50 ms up to it. */
  cap: number;
  /** Ends the retries at once, even in the middle of an attempt: the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /** Runs after each failed attempt, before the pause (e.g. to close what the attempt opened). */
  failed(error: Error): Promise<void>;
}

/** Runs `attempt` until it succeeds; never gives up while `signal` is not aborted. */
export async function retryUntilStopped(attempt: () => Promise<void>, { cap, signal, failed }: RetryOptions): Promise<void> {
  for (let pause = Math.min(50, cap); ; pause = Math.min(2 * pause, cap)) {
    try {
      return await abortable(attempt(), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      await failed(error as Error);
      await abortable(new Promise((resolve) => setTimeout(resolve, pause)), signal);
    }
  }
}

/** Settles with `promise`, or rejects with the signal's reason once it aborts (the promise may never settle). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {}); // abandoned on abort: its late failure is nobody's
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
