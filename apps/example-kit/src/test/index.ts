export { describeCartStore } from './cart-suite.js';
export { describeCrashWithoutPersist, describeHandoff } from './handoff-suite.js';
export { exampleApp, type ExampleApp, type RunningApp } from './example-app.js';
export { pnpm, pnpmPath, run, startPnpm, WORKSPACE, type Interactive } from './pnpm.js';
