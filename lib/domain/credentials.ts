import { z } from 'zod';
import { SecretInvalidError } from '../errors';

/** What is stored in Secrets Manager for one server. Never persisted anywhere else. */
export type ServerCredentials =
  | { type: 'password'; password: string }
  | { type: 'privateKey'; privateKey: string; passphrase?: string };

export type AuthMethod = ServerCredentials['type'];

const StoredCredentials = z.discriminatedUnion('type', [
  z.object({ type: z.literal('password'), password: z.string() }),
  z.object({ type: z.literal('privateKey'), privateKey: z.string(), passphrase: z.string().optional() }),
]);

/** The secret string of a server's credentials, as `SecretStore.create` writes it. */
export function serializeCredentials(credentials: ServerCredentials): string {
  return JSON.stringify(credentials);
}

/**
 * Reads a server's credentials from its secret string; anything else is a SecretInvalidError that
 * names `secretId`. Only the field names of the expected shape may appear in the message (zod
 * reports schema paths; unknown keys of the value are stripped, never reported).
 */
export function parseCredentials(secretId: string, secretString: string | undefined): ServerCredentials {
  const invalid = (why: string) => new SecretInvalidError(secretId, `is not valid credentials JSON (${why})`, 'the stored secret');
  if (secretString === undefined || secretString.trim() === '') throw invalid('it holds no text');
  let document: unknown;
  try {
    document = JSON.parse(secretString);
  } catch {
    // The SyntaxError quotes the value: dropped on purpose, not kept as the cause.
    throw invalid('it does not parse as JSON');
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) throw invalid('it is not a JSON object');
  const parsed = StoredCredentials.safeParse(document);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(the object)'))].join(', ');
    throw invalid(`expected {"type":"password","password":...} or {"type":"privateKey","privateKey":...}; wrong or missing: ${fields}`);
  }
  return parsed.data;
}
