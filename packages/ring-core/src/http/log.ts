import type { HttpAnswer } from './answers.js';
import type { Membership, MembershipLogger } from '../membership/types.js';
import type { NodeStatus, RingNode } from '../types.js';

export type { MembershipLogger };

/**
 * Logs the membership's health through the app's logger: why its start waits (naming the store), the backend lost
 * and regained (routing goes on on the last ring meanwhile) and every node status change. Returns the function that
 * stops logging.
 */
export function logMembership(membership: Membership, logger: Pick<MembershipLogger, 'info' | 'warn'>): () => void {
  const waiting = (reason: string) => logger.warn({ reason }, `ringroute: ${reason}`);
  const degraded = (error: Error) => logger.warn({ err: error }, 'ringroute: membership degraded, routing on the last ring');
  const recovered = () => logger.info({}, 'ringroute: membership recovered');
  const status = (node: RingNode, from: NodeStatus, to: NodeStatus) =>
    logger.info({ node: node.id, from, to }, 'ringroute: node status changed');
  membership.on('waiting', waiting).on('degraded', degraded).on('recovered', recovered).on('status', status);
  return () => membership.off('waiting', waiting).off('degraded', degraded).off('recovered', recovered).off('status', status);
}

/** Logs an answer the router gave instead of serving: a warning when the cluster cannot route, else debug. */
export function logAnswer(
  logger: { warn(details: object, message: string): void; debug(details: object, message: string): void },
  answer: HttpAnswer,
): void {
  if (answer.status >= 500) logger.warn({ ringRoute: answer.body }, 'ringroute: cannot route request');
  else logger.debug({ ringRoute: answer.body }, 'ringroute: answered by the router');
}
