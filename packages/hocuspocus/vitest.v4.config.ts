import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import workspace from '../../vitest.config.js';

/**
 * The server and client-helper tests again, against @hocuspocus/server 4.x (provider and extension-database 4.x too), which needs
 * Node 22: `pnpm --filter @ringroute/hocuspocus test:v4` runs vitest under the Node 22 binary of test/node22.
 * The default run (`vitest run` at the root, Node 20) covers 3.4.x.
 */
export default defineConfig({
  ...workspace,
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: {
    // The client helper imports @hocuspocus/provider: give it the 4.x provider in this run.
    alias: [
      { find: /^@hocuspocus\/provider$/, replacement: fileURLToPath(new URL('./node_modules/hocuspocus-provider-v4', import.meta.url)) },
      ...(workspace.resolve!.alias as { find: RegExp; replacement: string }[]),
    ],
  },
  test: {
    ...workspace.test,
    include: [
      'packages/hocuspocus/test/{smart-route,handover,no-loss,relay,failover,first-connect,scenario}.test.ts',
      'packages/hocuspocus/test/client/**/*.test.ts',
    ],
    env: { RINGROUTE_HOCUSPOCUS_MAJOR: '4' },
  },
});
