import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type Backoff = NonNullable<FaultHandling['watchBackoff']>;

const noListener = () => ({ dispose() {} });

/**
 * Retries a call that failed for a transient reason a few times, `delay` ms apart. etcd3's defaults (three instant
 * retries behind a circuit breaker that stays open for 5 s) would keep refusing calls for seconds after etcd is back;
 * membership has its own slower repair (resync, heal), so a call only needs to ride out a reconnect.
 */
function retryPolicy(attempts: number, delay: number): Policy {
  return {
    _altReturn: undefined as never,
    onSuccess: noListener,
    onFailure: noListener,
    async execute(fn, signal = new AbortController().signal) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal });
        } catch (error) {
          if (attempt >= attempts || signal.aborted || !(error instanceof Error) || !isRecoverableError(error)) throw error;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    },
  };
}

/** Calls one host directly (no circuit breaker: a single etcd endpoint has no other host to fail over to). */
const direct: Policy = retryPolicy(1, 0);

/** The watch stream reconnects every `delay` ms, so `recovered` follows etcd's return within one delay. */
function constantBackoff(delay: number): Backoff {
  const backoff: Backoff = { duration: delay, next: () => backoff };
  return backoff;
}

/** A client tuned for membership: quick reconnects (gRPC and watch) and short retries, so an outage ends promptly. */
export function createClient(options: IOptions, retryDelay: number): Etcd3 {
  return new Etcd3({
    ...options,
    grpcOptions: {
      // A channel of its own per client, so a reconnect is not held back by another client's backoff.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': Math.min(100, retryDelay),
      'grpc.max_reconnect_backoff_ms': retryDelay,
      ...options.grpcOptions,
    },
    faultHandling: {
      host: () => direct,
      global: retryPolicy(3, retryDelay),
      watchBackoff: constantBackoff(retryDelay),
      ...options.faultHandling,
    },
  });
}
