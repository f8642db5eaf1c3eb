import { describe, expect, it } from 'vitest';
import { MemoryMembership, RingRouteConfigError, StaticMembership } from '../../src/index.js';
import { EtcdMembership } from '../../src/etcd/index.js';
import { RedisMembership } from '../../src/redis/index.js';

const nodes = [{ id: 'a', url: 'http://127.0.0.1:1' }];

// Every membership refuses an option it does not know at construction, naming it and the closest known one: a typo
// (say `heartbeat` for `heartbeatInterval`) would otherwise leave the default timing on silently.
describe('membership options', () => {
  const cases: [string, () => unknown, string][] = [
    ['StaticMembership', () => new StaticMembership({ nodes, vnode: 100 } as never), 'vnode: unknown option (did you mean `vnodes`?)'],
    ['MemoryMembership', () => new MemoryMembership({ selff: nodes[0] } as never), 'selff: unknown option (did you mean `self`?)'],
    [
      'RedisMembership',
      () => new RedisMembership({ redis: 'redis://127.0.0.1:6379', cluster: 'c', heartbeat: 100 } as never),
      'heartbeat: unknown option (did you mean `heartbeatInterval`?)',
    ],
    [
      'EtcdMembership',
      () => new EtcdMembership({ etcd: 'http://127.0.0.1:2379', cluster: 'c', retention: 1 } as never),
      'retention: unknown option',
    ],
  ];
  it.each(cases)('%s refuses an unknown option, naming it', (_name, build, message) => {
    expect(build).toThrow(RingRouteConfigError);
    expect(build).toThrow(message);
  });

  it('accepts every option it documents (ring parameters included)', () => {
    const ring = { vnodes: 10, strategy: 'ring', hash: 'xxh32', avalanche: false, route: () => undefined } as const;
    expect(() => new StaticMembership({ nodes, self: 'a', ...ring })).not.toThrow();
    expect(() => new MemoryMembership({ self: nodes[0], ...ring })).not.toThrow();
    expect(
      () =>
        new RedisMembership({
          redis: 'redis://127.0.0.1:6379',
          cluster: 'c',
          self: nodes[0],
          syncInterval: 100,
          heartbeatInterval: 100,
          failureTimeout: 1000,
          secret: 's',
          prefix: 'p',
          maxMessageBytes: 4096,
          retention: 10_000,
          logger: { error: () => {} },
          ...ring,
        }),
    ).not.toThrow();
  });
});
