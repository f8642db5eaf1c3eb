import { describe, expect, it } from 'vitest';
import { endToEnd, readHops, redirectLocation, stripRouteParams } from '../../src/http/forward.js';
import { cookieValue } from '../../src/http/request.js';

describe('hops and locations', () => {
  it('reads hops from the proxy header or the redirect parameter, whichever is larger', () => {
    expect(readHops({}, '/x')).toBe(0);
    expect(readHops({ 'x-ringroute-hops': '2' }, '/x')).toBe(2);
    expect(readHops({ 'x-ringroute-hops': 'junk' }, '/x?a=1&rr_hops=3')).toBe(3);
    expect(readHops({ 'x-ringroute-hops': '4' }, '/x?rr_hops=1')).toBe(4);
    expect(readHops({}, '/x?notrr_hops=5')).toBe(0);
  });

  it('strips only the RingRoute parameters and keeps the rest of the query in order', () => {
    expect(stripRouteParams('/a?rr_hops=1&b=2&rr_epoch=3&c=4')).toBe('/a?b=2&c=4');
    expect(stripRouteParams('/a?rr_hops=1&rr_epoch=3')).toBe('/a');
    expect(stripRouteParams('/a?rr_x=1')).toBe('/a?rr_x=1');
    expect(stripRouteParams('http://evil.example/p?q=1')).toBe('/p?q=1');
    expect(stripRouteParams('*')).toBe('/');
  });

  it('joins the owner URL and the path without doubling slashes', () => {
    expect(redirectLocation('http://h:1/', '/p?x=1&rr_hops=1', 2, 7)).toBe('http://h:1/p?x=1&rr_hops=2&rr_epoch=7');
    expect(redirectLocation('http://h:1', '/p', 1, 0)).toBe('http://h:1/p?rr_hops=1&rr_epoch=0');
    expect(redirectLocation('http://h:1', '//evil.example/p', 1, 0)).toBe('http://h:1//evil.example/p?rr_hops=1&rr_epoch=0');
  });
});

describe('end-to-end headers', () => {
  it('drops hop-by-hop headers, those the Connection header names, and a client-sent x-ringroute-unreachable', () => {
    const headers = { host: 'h', connection: 'keep-alive', 'keep-alive': 'timeout=5', accept: '*/*', 'x-ringroute-unreachable': 'a,b' };
    expect(endToEnd(headers)).toEqual({ accept: '*/*' });
    expect(endToEnd({ connection: 'X-Trace, close', 'x-trace': '1', 'x-kept': '2' })).toEqual({ 'x-kept': '2' });
  });
});

describe('cookies', () => {
  it('finds one cookie, decoding it when it is valid percent-encoding', () => {
    expect(cookieValue('a=1; sid=x%20y; b=2', 'sid')).toBe('x y');
    expect(cookieValue('sid="quoted"', 'sid')).toBe('quoted');
    expect(cookieValue('sid=%E0%A4%A', 'sid')).toBe('%E0%A4%A');
    expect(cookieValue('xsid=1', 'sid')).toBeUndefined();
    expect(cookieValue(undefined, 'sid')).toBeUndefined();
  });
});
