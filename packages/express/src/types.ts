import type { RequestRoute } from '@ringroute/ring-core/http';

declare global {
  // Express's own augmentation point: both @types/express 4 and 5 build `Request` on `Express.Request`.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The key, its owner, the ring epoch and the decision; undefined where RingRoute is not mounted. */
      ringRoute?: RequestRoute;
    }
  }
}

export type { RingRouteLogger } from '@ringroute/ring-core';
