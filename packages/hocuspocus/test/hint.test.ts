import { describe, expect, it } from 'vitest';
import { encodeRedirectHint, MISROUTED_REASON, parseRedirectHint, REDIRECT_PREFIX } from '../src/hint/index.js';

const hint = { documentName: 'doc-1', ownerId: 'node-2', ownerUrl: 'ws://127.0.0.1:8001', epoch: 7, hops: 1 };

describe('redirect hint', () => {
  it('round-trips through encode and parse', () => {
    const reason = encodeRedirectHint(hint);
    expect(reason.startsWith(REDIRECT_PREFIX)).toBe(true);
    expect(parseRedirectHint(reason)).toEqual(hint);
  });

  it('returns undefined for any other reason', () => {
    for (const reason of [
      undefined,
      null,
      42,
      '',
      'permission-denied',
      MISROUTED_REASON,
      `${REDIRECT_PREFIX}{not json`,
      `${REDIRECT_PREFIX}null`,
    ])
      expect(parseRedirectHint(reason)).toBeUndefined();
  });

  it('rejects hints with missing or invalid fields', () => {
    const bad = [
      { ...hint, ownerUrl: 'http://127.0.0.1:8001' },
      { ...hint, ownerUrl: 'not a url' },
      { ...hint, epoch: -1 },
      { ...hint, hops: 1.5 },
      { ...hint, ownerId: '' },
      { ...hint, documentName: undefined },
    ];
    for (const value of bad) expect(parseRedirectHint(REDIRECT_PREFIX + JSON.stringify(value))).toBeUndefined();
  });
});
