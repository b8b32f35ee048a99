import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretInvalidError } from '../errors';

/** Where a secret string (the API token, the broker URL) comes from: a fixed value (local runs) or a Secrets Manager secret (AWS). */
export type SecretStringSource =
  | { kind: 'static'; value: string }
  | { kind: 'secret'; secretId: string; client: SecretsManagerClient; ttlMs?: number };

/**
 * Says what is wrong with a secret's value, in words that quote none of it (e.g. "is not an amqp://
 * or amqps:// URL"); undefined when the value is usable.
 */
export type SecretCheck = (value: string) => string | undefined;

/**
 * Returns a function that yields the current value, caching a secret-held one for `ttlMs` (five
 * minutes unless told, so a rotation takes effect without a redeploy). A secret-held value that is
 * empty or that `check` refuses is a SecretInvalidError, not cached, so a corrected secret is read
 * on the next call. Errors name the secret, never its value.
 */
export function secretString(source: SecretStringSource, check?: SecretCheck): () => Promise<string> {
  if (source.kind === 'static') return async () => source.value;
  let cached: { value: string; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const { SecretString } = await source.client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
    const value = SecretString?.trim();
    if (!value) throw new SecretInvalidError(source.secretId, 'is empty');
    const problem = check?.(value);
    if (problem !== undefined) throw new SecretInvalidError(source.secretId, problem);
    cached = { value, expiresAt: Date.now() + (source.ttlMs ?? 300_000) };
    return cached.value;
  };
}
