import { createHash, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

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

/** Where the API token comes from: a fixed value (local runs) or a Secrets Manager secret (AWS). */
export type TokenSource =
  | { kind: 'static'; token: string }
  | { kind: 'secret'; secretId: string; client: SecretsManagerClient; ttlMs?: number };

/** Returns a function that yields the current token, caching a secret-held token for `ttlMs` (rotation-friendly). */
export function tokenProvider(source: TokenSource): () => Promise<string> {
  if (source.kind === 'static') return async () => source.token;
  let cached: { token: string; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const { SecretString } = await source.client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
    if (!SecretString) throw new Error(`API token secret ${source.secretId} is empty`);
    cached = { token: SecretString.trim(), expiresAt: Date.now() + (source.ttlMs ?? 300_000) };
    return cached.token;
  };
}
