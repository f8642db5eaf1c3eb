import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'edge/index': 'src/edge/index.ts',
    'edge/bin': 'src/edge/bin.ts',
    'etcd/index': 'src/etcd/index.ts',
    'http/index': 'src/http/index.ts',
    'node/index': 'src/node/index.ts',
    'owned/index': 'src/owned/index.ts',
    'postgres/index': 'src/postgres/index.ts',
    'redis/index': 'src/redis/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  tsconfig: 'tsconfig.build.json',
  target: 'node20',
});
