import { checkKnownOptions, fail, RingRouteConfigError } from '@ringroute/ring-core';
import { compileKey, type KeyExtractor } from '@ringroute/ring-core/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RingRouteRouteConfig } from './plugin.js';

type Extractor = KeyExtractor<FastifyRequest>;

interface RouteConfig {
  ringRoute?: RingRouteRouteConfig;
  /** Fastify adds the route's url and method to its config; the 404 handler has no url. */
  url?: string;
  method?: string | string[];
}

/** Names the route in a configuration error (errors name the option; a large app also needs the route). */
function atRoute<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RingRouteConfigError) error.message += ` (route ${where})`;
    throw error;
  }
}

/** Fastify's limit on a path parameter: `routerOptions.maxParamLength` (or the deprecated top-level option). */
export function maxParamLength(fastify: FastifyInstance): number {
  const config = fastify.initialConfig as { routerOptions?: { maxParamLength?: number }; maxParamLength?: number };
  return config.routerOptions?.maxParamLength ?? config.maxParamLength ?? 100;
}

/**
 * Which key routes each route, read from its `config.ringRoute`: `false` opts out, an object opts in (with its own
 * `key`), and without it the route follows `scope`. A route's own key is compiled once per route config.
 */
export class RouteKeys {
  private readonly compiled = new WeakMap<object, Extractor>();

  constructor(
    private readonly key: Extractor,
    private readonly scope: 'all' | 'opt-in',
    /** The app's own `maxKeyLength` (undefined: the default, which Fastify's limit simply lowers for path parameters). */
    private readonly maxKeyLength: number | undefined,
    private readonly maxParamLength: number,
  ) {
    this.checkParams(key);
  }

  /** Checks a route's config when it is declared, so that a bad one fails at start (routes declared after the plugin loaded). */
  declare(config: RouteConfig | undefined, where: string): void {
    atRoute(where, () => this.resolve(config?.ringRoute));
  }

  /** The route's key extractor, or undefined when RingRoute does not route it. Runs for every request: an opted-out route costs one `routeOptions` read. */
  of(request: FastifyRequest): Extractor | undefined {
    const config = request.routeOptions.config as RouteConfig;
    if (config.url === undefined) return undefined; // Fastify's not-found handler: no route, nothing to route
    const own = config.ringRoute;
    if (own === false) return undefined;
    if (own === undefined) return this.scope === 'all' ? this.key : undefined;
    return this.compiled.get(own) ?? atRoute(`${String(config.method)} ${config.url}`, () => this.resolve(own));
  }

  private resolve(own: RingRouteRouteConfig | undefined): Extractor | undefined {
    if (own === false || own === undefined) return own === undefined && this.scope === 'all' ? this.key : undefined;
    if (own === null || typeof own !== 'object') fail('config.ringRoute', `must be false or an object { key? } (got ${String(own)})`);
    checkKnownOptions(own, ['key'], 'config.ringRoute');
    const key = own.key === undefined ? this.key : compileKey<FastifyRequest>(own.key, 'config.ringRoute.key');
    this.checkParams(key);
    this.compiled.set(own, key);
    return key;
  }

  /**
   * Fastify answers a path parameter over its `maxParamLength` itself, before any hook runs: a `maxKeyLength` above it
   * would never apply to `params:` keys, so it fails at start instead of being silently lowered.
   */
  private checkParams(key: Extractor): void {
    if (key.place !== 'params' || this.maxKeyLength === undefined || this.maxKeyLength <= this.maxParamLength) return;
    fail(
      'maxKeyLength',
      `${this.maxKeyLength} is more than Fastify's routerOptions.maxParamLength (${this.maxParamLength}), and Fastify refuses longer ` +
        `path parameters before RingRoute sees them: create Fastify with { routerOptions: { maxParamLength: ${this.maxKeyLength} } }, ` +
        `or set maxKeyLength to ${this.maxParamLength} or less`,
    );
  }
}
