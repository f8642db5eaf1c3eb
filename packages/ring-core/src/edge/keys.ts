import { checkOneOf, checkString, fail } from '../errors.js';

export type EdgeProxy = 'nginx' | 'haproxy';
export const EDGE_PROXIES: readonly EdgeProxy[] = ['nginx', 'haproxy'];

/** Header and cookie names the proxies accept as is (a token, no spaces or separators). */
const NAME = /^[A-Za-z0-9_.~!#$&'*+^`|-]+$/;

/**
 * The proxy expression that reads the key the adapters read for a key shorthand (`query:doc`, `header:x-key`,
 * `cookie:sid`). HAProxy decodes query and cookie values with url_dec, as the adapters do, so any key agrees;
 * nginx has no decoder, so it hashes the value as sent: keys that a client sends percent-encoded (anything but
 * A-Z a-z 0-9 - . _ ~) agree only through a header (see the README). HAProxy reads a header whole (req.fhdr, which
 * does not split at commas), as the adapters do.
 */
export function edgeKey(proxy: EdgeProxy, source: string, option = 'key'): string {
  checkOneOf('proxy', proxy, EDGE_PROXIES);
  const spec = checkString(option, source);
  const colon = spec.indexOf(':');
  const place = colon < 0 ? '' : spec.slice(0, colon);
  const name = spec.slice(colon + 1);
  if (!['query', 'header', 'cookie'].includes(place))
    fail(option, `must be "query:<name>", "header:<name>" or "cookie:<name>": the edge cannot read ${JSON.stringify(spec)}`);
  if (!NAME.test(name)) fail(option, `${JSON.stringify(name)} is not a name both proxies accept`);
  if (proxy === 'nginx') {
    // nginx variables: $arg_<name>, $cookie_<name> as written; $http_<name> lowercased with '-' as '_'.
    if (place === 'query') return `$arg_${name}`;
    if (place === 'cookie') return `$cookie_${name}`;
    return `$http_${name.toLowerCase().replace(/-/g, '_')}`;
  }
  if (place === 'query') return `url_param(${name}),url_dec(1)`;
  if (place === 'cookie') return `req.cook(${name}),url_dec`;
  return `req.fhdr(${name.toLowerCase()})`;
}
