import { isRoutable } from '../ring/nodes.js';
import type { Ring, RingNode } from '../types.js';
import type { HttpAnswer } from './answers.js';
import type { Ejector } from './ejection.js';
import { joinUrl, proxyHeaders } from './forward.js';
import { countsAgainst, isUnreachable, MAX_PROXY_ATTEMPTS } from './proxy.js';
import type { ProxyAttempt, ProxyFailure, ProxyPlan } from './types.js';

const NONE: readonly string[] = [];

/** Where the loop says it moves on to the next candidate (`(details, message)`, like pino or `console`). */
export interface ProxyLogger {
  warn(details: object, message: string): void;
}

/** What the proxy loop needs from the router (one per router). */
export interface ProxyContext {
  ejector: Ejector | undefined;
  /** One attempt's latency and outcome ('sent', 'unreachable' or 'error'). */
  observe(seconds: number, outcome: string): void;
  /** The answer when no candidate could take the request. */
  failed(plan: ProxyPlan, error: Error, tried: readonly string[]): HttpAnswer;
}

/**
 * Forwards a planned request through the adapter's `attempt`, walking the key's candidates (Pingora's
 * `select_with`): accept = routable, has a URL, untried, not ejected. After a failed attempt the next candidate is
 * tried only when the request is retry-safe and the owner was unreachable. Resolves with the answer to send, or
 * undefined when a response went out.
 */
export async function proxyWithFallback(
  context: ProxyContext,
  ring: Ring,
  plan: ProxyPlan,
  attempt: ProxyAttempt,
  logger?: ProxyLogger,
): Promise<ProxyFailure | undefined> {
  const { ejector } = context;
  const { route, request } = plan;
  const client = {
    remoteAddress: request.socket?.remoteAddress,
    protocol: request.protocol ?? (request.socket?.encrypted ? 'https' : 'http'),
  };
  const tried: string[] = [];
  // Ejected owners are skipped before anything is sent, so skipping them is safe for any request.
  const skipped: string[] = [];
  let error: Error | undefined;
  // The decided owner is the first candidate: the rest of the walk is only taken once it failed or is ejected.
  const { owner } = route;
  let rest: Iterator<RingNode> | undefined;
  const next = (): RingNode | undefined => {
    rest ??= ring.candidates(route.key);
    for (let r = rest.next(); r.done !== true; r = rest.next()) if (r.value.id !== owner?.id) return r.value;
    return undefined;
  };
  for (let node = owner ?? next(); node !== undefined; node = next()) {
    if (tried.length === MAX_PROXY_ATTEMPTS || !isRoutable(node)) break;
    if (node.url === undefined) continue;
    if (ejector?.isEjected(node.id)) {
      skipped.push(node.id);
      continue;
    }
    if (tried.length > 0 && !plan.retry) break;
    if (tried.length > 0) logger?.warn({ err: error, node: tried.at(-1) }, 'ringroute: owner unreachable, trying the next candidate');
    // The next candidate learns which owners were passed over, so it serves the key instead of sending it back.
    const passed = tried.length + skipped.length === 0 ? NONE : [...skipped, ...tried];
    const headers = proxyHeaders(request.headers, client, route.hops + 1, passed);
    tried.push(node.id);
    const started = performance.now();
    const result = await attempt(joinUrl(node.url, plan.path), headers, node);
    const seconds = (performance.now() - started) / 1000;
    if (result.sent) {
      context.observe(seconds, 'sent');
      ejector?.success(node.id);
      return undefined;
    }
    error = result.error;
    const unreachable = isUnreachable(error);
    context.observe(seconds, unreachable ? 'unreachable' : 'error');
    if (countsAgainst(error)) ejector?.failure(node);
    if (!unreachable) break;
  }
  error ??= new Error('every candidate is ejected or has no URL');
  const named = tried.length > 0 ? tried : skipped;
  return { answer: context.failed(plan, error, named), error, tried: named };
}
