import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, loadHash, murmur3, type HashName, type StrategyName } from '@ringroute/ring-core';

// Frozen key -> position and key -> owner mappings. Every router in a cluster, on every platform and
// version, must agree on them: a change that moves keys must fail here (and ship as a breaking change).

const KEYS = [
  '',
  'a',
  'abc',
  'user:42',
  'session-0123456789abcdef',
  'doc/2024/ünïcödé',
  '日本語のキー',
  '🔑 emoji',
  ' ',
  '\u0000',
  'x'.repeat(100),
  'K',
];

const POSITIONS: Record<HashName, number[]> = {
  xxh32: [
    46947589, 1426945110, 852579327, 4132429719, 2614792404, 3684390016, 2291377896, 50880756, 120460436, 3479547966, 1272122682,
    1683062760,
  ],
  xxh64: [
    4014398263, 3528377585, 1153182965, 3693079165, 3488029335, 1614598120, 157173669, 1483480051, 127727054, 3912542282, 2465259098,
    2800215297,
  ],
  murmur3: [
    0, 1009084850, 3017643002, 3349586805, 705467714, 2539786059, 909276598, 903316156, 2129959832, 1364076727, 2625171602, 4023337626,
  ],
  djb2: [5381, 177670, 193485963, 1170328996, 3613069144, 4023763020, 332157867, 3669099469, 177605, 177573, 2772255845, 177648],
  // CRC-32 (IEEE): crc32("a") = 0xe8b7be43, crc32("abc") = 0x352441c2; sdbm and wt6 as HAProxy's hash.c (checked against the binary in edge/).
  crc32: [
    0, 3904355907, 891568578, 1684999558, 4162587002, 2611249273, 1618436673, 1935321754, 3916222277, 3523407757, 1577999759, 856455061,
  ],
  sdbm: [0, 97, 807794786, 2023534829, 1118896703, 2308640189, 1757637764, 2334543666, 32, 0, 1217321984, 75],
  wt6: [
    4187620192, 1900802597, 2483038440, 778624079, 1636953945, 2222055996, 2399261578, 3070715769, 1884275301, 1892670053, 412970605,
    1910764965,
  ],
};

describe('hash golden vectors', () => {
  it('match the published reference values for the empty key', async () => {
    // xxh32("") = 0x02cc5d05, xxh64("") = 0xef46db3751d8e999 (high half), murmur3_x86_32("", 0) = 0, djb2("") = 5381.
    expect((await loadHash('xxh32'))('')).toBe(0x02cc5d05);
    expect((await loadHash('xxh64'))('')).toBe(0xef46db37);
    expect(murmur3('')).toBe(0);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect((await loadHash('djb2'))('')).toBe(5381);
    expect((await loadHash('crc32'))('123456789')).toBe(0xcbf43926);
  });

  for (const name of Object.keys(POSITIONS) as HashName[]) {
    it(`${name}: key -> position is frozen (ascii, unicode, emoji, empty, NUL, long keys)`, async () => {
      const hash = await loadHash(name);
      expect(KEYS.map((key) => hash(key))).toEqual(POSITIONS[name]);
      const ring = await createRing({ nodes: [{ id: 'a' }], hash: name });
      expect(KEYS.map((key) => ring.position(key))).toEqual(POSITIONS[name]);
    });
  }
});

const NODES = [{ id: 'alpha' }, { id: 'bravo', weight: 2 }, { id: 'charlie' }, { id: 'delta', weight: 0.5 }, { id: 'echo' }];
const SAMPLE = Array.from({ length: 12 }, (_, i) => `key-${i}`);
const MANY = Array.from({ length: 2000 }, (_, i) => `k${i}`);

/** strategy -> hash -> [owners of SAMPLE, murmur3 digest of the owners of MANY, ring checksum] */
// The edge strategies ('nginx', 'haproxy') have their own vectors in edge-golden.test.ts.
const OWNERS: Partial<Record<StrategyName, Partial<Record<HashName, [string[], number, string]>>>> = {
  ring: {
    xxh32: [
      ['charlie', 'charlie', 'bravo', 'bravo', 'bravo', 'alpha', 'charlie', 'bravo', 'alpha', 'bravo', 'alpha', 'charlie'],
      3292343541,
      'c54dc0cc692f83f7',
    ],
    xxh64: [
      ['delta', 'bravo', 'charlie', 'bravo', 'echo', 'charlie', 'charlie', 'echo', 'bravo', 'bravo', 'echo', 'echo'],
      1923515216,
      '7e3d99532384acfd',
    ],
    murmur3: [
      ['bravo', 'echo', 'bravo', 'echo', 'echo', 'bravo', 'echo', 'bravo', 'charlie', 'alpha', 'bravo', 'charlie'],
      3913059539,
      'd18cc42c749c8868',
    ],
    djb2: [
      ['bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'delta', 'delta'],
      3538236284,
      '7e3460057d437961',
    ],
  },
  maglev: {
    xxh32: [
      ['delta', 'bravo', 'charlie', 'bravo', 'bravo', 'delta', 'bravo', 'delta', 'alpha', 'alpha', 'bravo', 'bravo'],
      799877556,
      '91606b96b0e562f3',
    ],
    xxh64: [
      ['alpha', 'echo', 'bravo', 'echo', 'delta', 'delta', 'bravo', 'charlie', 'bravo', 'charlie', 'echo', 'echo'],
      331473737,
      '41e1c40ca1f690d5',
    ],
    murmur3: [
      ['charlie', 'echo', 'echo', 'bravo', 'bravo', 'echo', 'bravo', 'charlie', 'alpha', 'bravo', 'alpha', 'bravo'],
      2766942729,
      '366b949ffd77beeb',
    ],
    djb2: [
      ['bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo', 'bravo'],
      4129701379,
      '1331cc24374dcc71',
    ],
  },
  rendezvous: {
    xxh32: [
      ['echo', 'charlie', 'alpha', 'echo', 'bravo', 'alpha', 'bravo', 'charlie', 'bravo', 'alpha', 'charlie', 'alpha'],
      3393998391,
      '9e555cd0eb37b4a1',
    ],
    xxh64: [
      ['charlie', 'bravo', 'delta', 'charlie', 'delta', 'bravo', 'delta', 'charlie', 'bravo', 'echo', 'bravo', 'charlie'],
      569090881,
      'ea0671d790111721',
    ],
    murmur3: [
      ['alpha', 'charlie', 'bravo', 'alpha', 'charlie', 'echo', 'charlie', 'alpha', 'echo', 'echo', 'bravo', 'bravo'],
      4186554203,
      '137cea86b7a28cd2',
    ],
    djb2: [
      ['bravo', 'bravo', 'bravo', 'echo', 'alpha', 'bravo', 'charlie', 'echo', 'bravo', 'charlie', 'bravo', 'delta'],
      1333394167,
      '1d08237f61774f78',
    ],
  },
};

describe('owner golden vectors', () => {
  for (const strategy of Object.keys(OWNERS) as StrategyName[]) {
    for (const hash of Object.keys(OWNERS[strategy]!) as HashName[]) {
      it(`${strategy} + ${hash}: key -> owner and checksum are frozen`, async () => {
        const [owners, digest, checksum] = OWNERS[strategy]![hash]!;
        const ring = await createRing({ nodes: NODES, strategy, hash });
        expect(SAMPLE.map((key) => ring.owner(key)!.id)).toEqual(owners);
        expect(murmur3(MANY.map((key) => ring.owner(key)!.id).join(','))).toBe(digest);
        expect(ring.checksum).toBe(checksum);
      });
    }
  }
});

describe('xxh32 ASCII fast path', () => {
  it('gives the digest of xxhash-wasm for any ASCII key, and defers to it for any other', async () => {
    const { default: xxhash } = await import('xxhash-wasm');
    const { h32 } = await xxhash();
    const hash = await loadHash('xxh32');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 })), (key) => {
        expect(hash(key)).toBe(h32(key));
      }),
      { numRuns: 2000 },
    );
  });
});
