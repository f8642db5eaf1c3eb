export { describeCartStore } from './cart-suite.js';
export { describeCrashWithoutPersist, describeHandoff } from './handoff-suite.js';
export { exampleApp, type ExampleApp, type RunningApp } from './example-app.js';
