import { parse } from 'node:querystring';
import { describe, expect, it } from 'vitest';
import { queryParam } from '../../src/http/query.js';

describe('queryParam', () => {
  it.each([
    ['/x?key=abc', 'abc'],
    ['/x?a=1&key=abc&b=2', 'abc'],
    ['/x?xkey=no&key=yes', 'yes'],
    ['/x?key=first&key=second', 'first'],
    ['/x?key=a%20b%2Fc', 'a b/c'],
    ['/x?key=a+b', 'a b'],
    ['/x?key=%E0%A4%A', '\ufffd%A'],
    ['/x?key=', ''],
    ['/x?keys=1', undefined],
    ['/x', undefined],
    ['http://evil.example/x?key=abc', 'abc'],
  ])('%s -> %j, as node:querystring reads it', (url, expected) => {
    expect(queryParam(url, 'key')).toBe(expected);
    const parsed = parse(url.slice(url.indexOf('?') + 1)).key;
    if (url.includes('?')) expect([parsed].flat()[0]).toBe(expected);
  });
});
