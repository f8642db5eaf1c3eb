import { isRoutable } from '../../ring/nodes.js';
import { nodeView, type NodeView } from '../answers.js';
import type { RingRouter } from '../router.js';

/** `GET <prefix>/route?key=`: the owner, the fallback candidates and the epoch; undefined before the first ring. */
export function describeKey(router: RingRouter<never>, key: string) {
  const ring = router.ring;
  if (!ring) return undefined;
  const owner = ring.owner(key);
  return {
    key,
    owner: owner && nodeView(owner),
    candidates: [...ring.candidates(key)].filter(isRoutable).map(nodeView) as NodeView[],
    local: owner?.id === router.options.self,
    epoch: ring.epoch,
    checksum: ring.checksum,
  };
}

/** `GET <prefix>/api/routes/stats`: members with their share of a fixed key sample, the counters, passive health. */
export function routerStats(router: RingRouter<never>) {
  const ring = router.ring;
  const share = router.shares();
  const { counters } = router;
  return {
    self: router.options.self,
    ready: router.ready,
    epoch: ring?.epoch,
    checksum: ring?.checksum,
    nodes: (ring?.nodes ?? []).map((n) => ({ ...nodeView(n), weight: n.weight, share: share.get(n.id) ?? 0 })),
    counters: { ...counters, hops: [...counters.hops], errorsByReason: { ...counters.errorsByReason } },
    misrouted: counters.misrouted,
    ejection: router.ejection(),
    membership: router.membershipStats(),
    handoff: router.handoffProgress(),
  };
}

export type RouterStats = ReturnType<typeof routerStats>;

/** `GET <prefix>/health`: one body shape in every adapter (Hocuspocus adds its uptime). */
export const healthBody = (self: string) => ({ status: 'ok' as const, self });
