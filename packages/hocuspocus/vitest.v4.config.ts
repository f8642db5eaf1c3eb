import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import workspace from '../../vitest.config.js';

/**
 * The server tests again, against @hocuspocus/server 4.x (provider and extension-database 4.x too), which needs
 * Node 22: `pnpm --filter @ringroute/hocuspocus test:v4` runs vitest under the Node 22 binary of test/node22.
 * The default run (`vitest run` at the root, Node 20) covers 3.4.x.
 */
export default defineConfig({
  ...workspace,
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    ...workspace.test,
    include: ['packages/hocuspocus/test/{smart-route,handoff,no-loss}.test.ts'],
    env: { RINGROUTE_HOCUSPOCUS_MAJOR: '4' },
  },
});
