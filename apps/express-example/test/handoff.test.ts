import { describeHandoff } from '@ringroute/example-kit/test';

describeHandoff('express-example', new URL('..', import.meta.url), 'postgres');
