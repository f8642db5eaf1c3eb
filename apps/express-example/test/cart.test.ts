import { describeCartStore } from '@ringroute/example-kit/test';

describeCartStore('express-example', new URL('..', import.meta.url));
