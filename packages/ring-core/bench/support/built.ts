import { fileURLToPath } from 'node:url';

/**
 * The environment of a benchmark's server process: tsx resolves `@ringroute/*` to the built packages (`dist`, what
 * users install) rather than to the sources through the workspace's tsconfig paths. Sources run through tsx carry
 * esbuild's keepNames helper, one `Object.defineProperty` per closure created, a cost the published packages and
 * the peers they are measured against do not have.
 */
export function builtPackages(packageDir: URL, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('tsconfig.build.json', packageDir)) };
}
