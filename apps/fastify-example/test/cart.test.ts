import { describeCartStore } from '@ringroute/example-kit/test';

describeCartStore('fastify-example', new URL('..', import.meta.url));
