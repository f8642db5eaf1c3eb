import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from '../request.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Checks `Authorization: Bearer <token>` in constant time (digests have equal length whatever the input). */
export function bearerMatches(headers: IncomingHttpHeaders, expected: Buffer): boolean {
  const header = headers.authorization;
  if (typeof header !== 'string' || !/^bearer /i.test(header)) return false;
  return timingSafeEqual(digest(header.slice(7).trim()), expected);
}

export const tokenDigest = digest;
