import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented `Authorization` header with the expected bearer token in constant time.
 * Both sides are hashed first so the comparison does not leak the token's length either.
 */
export function bearerMatches(authorization: string | undefined, expectedToken: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  const presented = match?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  const equal = timingSafeEqual(digest(presented), digest(expectedToken));
  return equal && presented.length > 0;
}
