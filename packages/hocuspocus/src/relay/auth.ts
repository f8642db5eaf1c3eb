import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a relaying node presents when it opens a link to an owner. */
export const LINK_HEADER = 'x-ringroute-link';
/** How far a link token's clock may be from the owner's (ms): tokens are not reusable beyond it. */
const MAX_SKEW = 5 * 60_000;

const mac = (secret: string, from: string, to: string, at: number) =>
  createHmac('sha256', secret).update(`ringroute-relay\n${from}\n${to}\n${at}`).digest();

/** `from.at.hmac`: signed with the cluster secret, bound to both nodes and the time. */
export function linkToken(secret: string, from: string, to: string, at = Date.now()): string {
  return `${encodeURIComponent(from)}.${at}.${mac(secret, from, to, at).toString('hex')}`;
}

/** The id of the node that signed `token` for this node, or undefined when it is missing, stale or forged. */
export function verifyLinkToken(secret: string | undefined, self: string, token: unknown, now = Date.now()): string | undefined {
  if (secret === undefined || typeof token !== 'string') return undefined;
  const [from, at, signature] = token.split('.');
  if (from === undefined || at === undefined || signature === undefined || !/^\d{1,16}$/.test(at)) return undefined;
  if (Math.abs(now - Number(at)) > MAX_SKEW) return undefined;
  let node: string;
  try {
    node = decodeURIComponent(from);
  } catch {
    return undefined;
  }
  const expected = mac(secret, node, self, Number(at));
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? node : undefined;
}
