import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Where a secret string (the API token, the broker URL) comes from: a fixed value (local runs) or a Secrets Manager secret (AWS). */
export type SecretStringSource =
  | { kind: 'static'; value: string }
  | { kind: 'secret'; secretId: string; client: SecretsManagerClient; ttlMs?: number };

/**
 * Returns a function that yields the current value, caching a secret-held one for `ttlMs` (five
 * minutes unless told, so a rotation takes effect without a redeploy). Errors name the secret, never
 * its value.
 */
export function secretString(source: SecretStringSource): () => Promise<string> {
  if (source.kind === 'static') return async () => source.value;
  let cached: { value: string; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const { SecretString } = await source.client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
    if (!SecretString?.trim()) throw new Error(`secret ${source.secretId} is empty`);
    cached = { value: SecretString.trim(), expiresAt: Date.now() + (source.ttlMs ?? 300_000) };
    return cached.value;
  };
}
