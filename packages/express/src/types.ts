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
