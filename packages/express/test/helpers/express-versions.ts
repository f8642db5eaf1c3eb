import { createRequire } from 'node:module';
import express5 from 'express';

const require = createRequire(import.meta.url);

/**
 * Every suite runs against both supported majors: `express4` is an npm alias of express@4 in devDependencies.
 * `module` is what a child process requires to get the same version.
 */
export const EXPRESS_VERSIONS = [
  { name: 'express 5', module: 'express', express: express5 },
  { name: 'express 4', module: 'express4', express: require('express4') as typeof express5 },
] as const;

export type ExpressFactory = typeof express5;
