import { isIP } from 'node:net';
import { z } from 'zod';
import { GlobSyntaxError } from '../errors';
import { compileGlob } from './glob';
import type { AuthMethod } from './credentials';

/** A registered SFTP server as stored. Holds the ARN of its credentials, never the credentials. */
export interface ServerRecord {
  id: string;
  name: string;
  host: string;
  port: number;
  username: string;
  authMethod: AuthMethod;
  secretArn: string;
  remoteDir: string;
  pattern: string;
  recursive: boolean;
  pollIntervalSeconds: number;
  hostKey: string | null;
  active: boolean;
  keyPrefix: string;
  /** SFTP sessions sluice may hold open to this server at once, fleet-wide. */
  maxConnections: number;
  /** How long a file's size and mtime must stay unchanged before it is taken. */
  stableAfterSeconds: number;
  /** What happens to the remote file once its object is verified: `keep`, `delete` or `move:<dir>`. */
  afterIngest: string;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter, bumped on every update. */
  version: number;
}

/** Polling status the API shows beside the registration. */
export interface ServerPollStatus {
  observedHostKey: string | null;
  lastPollAt: string | null;
  lastError: { code: string; message: string; at: string } | null;
  consecutiveFailures: number;
  nextPollAt: string | null;
}

/** What the API shows of a server: everything but where its secret lives and internal counters. */
export type ServerView = Omit<ServerRecord, 'secretArn' | 'version'> & ServerPollStatus;

export function toServerView(
  { secretArn: _secretArn, version: _version, ...registration }: ServerRecord,
  poll?: Partial<ServerPollStatus> & { lastError?: ServerPollStatus['lastError'] | undefined },
): ServerView {
  return {
    ...registration,
    observedHostKey: poll?.observedHostKey ?? null,
    lastPollAt: poll?.lastPollAt ?? null,
    lastError: poll?.lastError ?? null,
    consecutiveFailures: poll?.consecutiveFailures ?? 0,
    nextPollAt: poll?.nextPollAt ?? null,
  };
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const noControlCharacters = (text: string) => !CONTROL_CHARACTERS.test(text);

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export const serverName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'may only contain letters, digits, ".", "_" and "-"');

const host = z
  .string()
  .min(1)
  .max(253)
  .refine((value) => HOSTNAME.test(value) || isIP(value) !== 0, 'must be a hostname or an IP address')
  // `2130706433`, `0x7f000001`, `169.254.43518`: not names (a top-level label is never numeric) but
  // addresses the resolver accepts in forms the API's address checks would not recognise.
  .refine((value) => isIP(value) !== 0 || !/^(?:0x[0-9a-f]*|[0-9]+)$/i.test(value.replace(/\.$/, '').split('.').pop() ?? ''), 'must be a hostname or an IP address in standard notation');

const port = z.int().min(1).max(65535);

const username = z.string().min(1).max(255).refine(noControlCharacters, 'must not contain control characters');

const password = z.string().min(1).max(1024);

const privateKey = z
  .string()
  .min(1)
  .max(16384)
  .refine((value) => value.includes('PRIVATE KEY'), 'must be a PEM or OpenSSH private key');

const passphrase = z.string().min(1).max(1024);

/** Absolute remote path, normalised: no duplicate or trailing slashes, no `.`/`..` segments. */
const remoteDir = z
  .string()
  .min(1)
  .max(1024)
  .refine((value) => value.startsWith('/'), 'must be an absolute path starting with "/"')
  .refine(noControlCharacters, 'must not contain control characters')
  .refine(
    (value) => value.split('/').every((segment) => segment !== '.' && segment !== '..'),
    'must not contain "." or ".." segments',
  )
  .transform((value) => `/${value.split('/').filter(Boolean).join('/')}`);

const pattern = z
  .string()
  .min(1)
  .max(255)
  .refine(noControlCharacters, 'must not contain control characters')
  .superRefine((value, context) => {
    try {
      compileGlob(value);
    } catch (error) {
      if (!(error instanceof GlobSyntaxError)) throw error;
      context.addIssue({ code: 'custom', message: `is not a valid glob: it ${error.message}` });
    }
  });

const pollIntervalSeconds = z.int().min(5).max(86_400);
export const DEFAULT_POLL_INTERVAL_SECONDS = 5;
const maxConnections = z.int().min(1).max(32);
const stableAfterSeconds = z.int().min(0).max(86_400);
const afterIngest = z
  .string()
  .regex(/^(keep|delete|move:\/[^\u0000-\u001f\u007f]*)$/, 'must be "keep", "delete" or "move:<absolute directory>"')
  .refine((value) => !value.startsWith('move:') || value.slice(5).split('/').every((segment) => segment !== '.' && segment !== '..'), 'the move directory must not contain "." or ".." segments')
  .transform((value) => (value.startsWith('move:') ? `move:/${value.slice(5).split('/').filter(Boolean).join('/')}` : value));

/** OpenSSH's fingerprint format (`ssh-keygen -lf`), with or without base64 padding. */
const hostKey = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must be an OpenSSH SHA-256 fingerprint, "SHA256:" followed by 43 base64 characters')
  .transform((value) => value.replace(/=$/, ''));

export const MAX_KEY_PREFIX_SEGMENTS = 16;

/** S3 key prefix: relative, `/`-separated, no empty, `.` or `..` segments; a trailing `/` is dropped. */
export const keyPrefix = z
  .string()
  .min(1)
  .max(512)
  .refine(noControlCharacters, 'must not contain control characters')
  .refine((value) => !value.startsWith('/'), 'must not start with "/"')
  .refine(
    (value) =>
      value
        .replace(/\/$/, '')
        .split('/')
        .every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
    'must not contain empty, "." or ".." segments',
  )
  // Each segment above the last is a claim the registration writes (no prefix may nest in another's).
  .refine((value) => value.replace(/\/$/, '').split('/').length <= MAX_KEY_PREFIX_SEGMENTS, `must have at most ${MAX_KEY_PREFIX_SEGMENTS} segments`)
  .transform((value) => value.replace(/\/$/, ''));

/** Cross-field rules run even when single fields failed, so one response names every problem. */
function isObjectPayload(payload: { value: unknown }): boolean {
  return typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value);
}

const serverFields = {
  name: serverName,
  host,
  port,
  username,
  password,
  privateKey,
  passphrase,
  remoteDir,
  pattern,
  recursive: z.boolean(),
  pollIntervalSeconds,
  hostKey,
  active: z.boolean(),
  keyPrefix,
  maxConnections,
  stableAfterSeconds,
  afterIngest,
};

type Credentials = { password?: string; privateKey?: string; passphrase?: string };

type CredentialRule = [(input: Credentials) => boolean, { path: string[]; message: string; when: typeof isObjectPayload }];

const notBothSecrets: CredentialRule = [
  (input) => input.password === undefined || input.privateKey === undefined,
  { path: ['privateKey'], message: 'give either password or privateKey, not both', when: isObjectPayload },
];

const passphraseNeedsKey: CredentialRule = [
  (input) => input.passphrase === undefined || input.privateKey !== undefined,
  { path: ['passphrase'], message: 'passphrase is only allowed together with privateKey', when: isObjectPayload },
];

export const CreateServerInput = z
  .strictObject({
    ...serverFields,
    port: port.default(22),
    password: password.optional(),
    privateKey: privateKey.optional(),
    passphrase: passphrase.optional(),
    remoteDir: remoteDir.default('/'),
    pattern: pattern.default('*'),
    recursive: z.boolean().default(false),
    /** Absent: DEFAULT_POLL_INTERVAL_SECONDS, or the deployment's floor if higher. */
    pollIntervalSeconds: pollIntervalSeconds.optional(),
    hostKey: hostKey.optional(),
    active: z.boolean().default(true),
    keyPrefix: keyPrefix.optional(),
    maxConnections: maxConnections.default(2),
    stableAfterSeconds: stableAfterSeconds.default(5),
    afterIngest: afterIngest.default('keep'),
  })
  .refine((input) => input.password !== undefined || input.privateKey !== undefined, {
    path: ['password'],
    message: 'exactly one of password or privateKey is required',
    when: isObjectPayload,
  })
  .refine(...notBothSecrets)
  .refine(...passphraseNeedsKey);
export type CreateServerInput = z.infer<typeof CreateServerInput>;

/** Any subset of the fields; `hostKey: null` clears the pinned key. */
export const UpdateServerInput = z
  .strictObject({ ...serverFields, hostKey: hostKey.nullable() })
  .partial()
  .refine((input) => Object.keys(input).length > 0, { path: [], message: 'give at least one field to change', when: isObjectPayload })
  .refine(...notBothSecrets)
  .refine(...passphraseNeedsKey);
export type UpdateServerInput = z.infer<typeof UpdateServerInput>;

/** Exposed for the OpenAPI document: the shape the API returns. */
export const ServerViewSchema = z.object({
  id: z.uuid(),
  name: serverName,
  host: z.string(),
  port,
  username: z.string(),
  authMethod: z.enum(['password', 'privateKey']),
  remoteDir: z.string(),
  pattern: z.string(),
  recursive: z.boolean(),
  pollIntervalSeconds,
  hostKey: z.string().nullable(),
  active: z.boolean(),
  keyPrefix: z.string(),
  maxConnections,
  stableAfterSeconds,
  afterIngest: z.string(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  observedHostKey: z.string().nullable().describe('Host key fingerprint recorded on first connection when no hostKey is pinned'),
  lastPollAt: z.iso.datetime().nullable(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.iso.datetime() }).nullable(),
  consecutiveFailures: z.int().min(0),
  nextPollAt: z.iso.datetime().nullable(),
});

/**
 * A move target inside a recursively listed remoteDir would be listed again and ingested twice.
 * Returns the reason, or undefined when the combination is safe.
 */
export function afterIngestConflict(server: Pick<ServerRecord, 'afterIngest' | 'remoteDir' | 'recursive'>): string | undefined {
  if (!server.afterIngest.startsWith('move:') || !server.recursive) return undefined;
  const target = server.afterIngest.slice(5);
  const base = server.remoteDir === '/' ? '' : server.remoteDir;
  return target === server.remoteDir || target.startsWith(`${base}/`)
    ? 'the move directory is inside the recursively listed remoteDir: moved files would be ingested again'
    : undefined;
}
