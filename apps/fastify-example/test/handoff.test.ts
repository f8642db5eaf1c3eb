import { describeCrashWithoutPersist, describeHandoff } from '@ringroute/example-kit/test';

const app = new URL('..', import.meta.url);
describeHandoff('fastify-example', app, 'redis');
describeCrashWithoutPersist('fastify-example', app);
