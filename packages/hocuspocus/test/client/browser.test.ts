import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

const source = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/** Workspace packages from their sources, as the tests see them. */
const workspaceSources: Plugin = {
  name: 'workspace-sources',
  setup(builder) {
    builder.onResolve({ filter: /^@ringroute\/ring-core$/ }, () => ({ path: source('ring-core/src/index.ts') }));
  },
};

describe('@ringroute/hocuspocus/client in a browser build', () => {
  it('bundles for the browser with every dependency and no Node built-in', async () => {
    const result = await build({
      entryPoints: [source('hocuspocus/src/client/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      plugins: [workspaceSources],
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((path) => path.includes('@hocuspocus/provider'))).toBe(true);
    expect(inputs.some((path) => path.includes('ring-core/src'))).toBe(true);
    expect(inputs.filter((path) => path.startsWith('node:') || /(^|\/)node_modules\/ws\//.test(path))).toEqual([]);
  });
});
