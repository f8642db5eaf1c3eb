import { describeCrashWithoutPersist, describeHandoff } from '@ringroute/example-kit/test';

const app = new URL('..', import.meta.url);
describeHandoff('fastify-example', app);
describeCrashWithoutPersist('fastify-example', app);
