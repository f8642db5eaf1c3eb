import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run on source: workspace packages resolve to their src/ entries, never to dist/.
const pkg = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));
const app = (path: string) => fileURLToPath(new URL(`./apps/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@ringroute\/ring-core\/(.+)$/, replacement: pkg('ring-core/src/$1/index.ts') },
      { find: /^@ringroute\/ring-core$/, replacement: pkg('ring-core/src/index.ts') },
      { find: /^@ringroute\/fastify$/, replacement: pkg('fastify/src/index.ts') },
      { find: /^@ringroute\/express$/, replacement: pkg('express/src/index.ts') },
      { find: /^@ringroute\/hocuspocus\/(.+)$/, replacement: pkg('hocuspocus/src/$1/index.ts') },
      { find: /^@ringroute\/hocuspocus$/, replacement: pkg('hocuspocus/src/index.ts') },
      { find: /^@ringroute\/example-kit\/(.+)$/, replacement: app('example-kit/src/$1/index.ts') },
      { find: /^@ringroute\/example-kit$/, replacement: app('example-kit/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
