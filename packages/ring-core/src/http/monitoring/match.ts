import type { MonitoringRoute } from './types.js';

export type Match = { route: MonitoringRoute; params: Record<string, string> } | { methodNotAllowed: string } | { badParam: string };

/** `/api/routes/nodes/:id` -> `^/api/routes/nodes/(?<id>[^/]+)$` */
const compile = (path: string) => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);

/**
 * The one route matcher for adapters that do not register routes with a framework router (Express, Hocuspocus):
 * `(method, path)` -> the route with its decoded params, a 405 hint, or undefined when the path is not ours.
 * Every other request costs one map lookup (plus a pattern per parameterised route).
 */
export function routeMatcher(routes: readonly MonitoringRoute[]): (method: string, path: string) => Match | undefined {
  const exact = new Map<string, MonitoringRoute[]>();
  const patterned: { route: MonitoringRoute; pattern: RegExp }[] = [];
  for (const route of routes) {
    if (route.path.includes('/:')) patterned.push({ route, pattern: compile(route.path) });
    else exact.set(route.path, [...(exact.get(route.path) ?? []), route]);
  }
  return (rawMethod, path) => {
    const method = rawMethod === 'HEAD' ? 'GET' : rawMethod;
    const candidates = exact.get(path);
    if (candidates) {
      const route = candidates.find((r) => r.method === method);
      return route ? { route, params: {} } : { methodNotAllowed: candidates.map((r) => r.method).join(', ') };
    }
    for (const { route, pattern } of patterned) {
      const match = pattern.exec(path);
      if (!match) continue;
      if (route.method !== method) return { methodNotAllowed: route.method };
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.groups ?? {})) {
        try {
          params[name] = decodeURIComponent(value);
        } catch {
          return { badParam: name };
        }
      }
      return { route, params };
    }
    return undefined;
  };
}
