/** One invalid input field: `field` is a dotted path into the request (`port`, `query.limit`). */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * The errors sluice raises on purpose, all here, in three families:
 * - DomainError: a request the API refuses; `status` is its HTTP status, mapped in one place
 *   (lib/http/problem.ts);
 * - ExternalError: an outside system (SFTP server, broker, object store, a stored secret) failed;
 *   `retryable` says whether trying again later can help;
 * - the rest (ConfigError, LeaseLostError, HashStateError, ...): internal conditions a caller
 *   handles by type.
 * Every one has a stable `code` (clients, logs and `lastError.code` key on it) and its class name as
 * `name`. Messages are written for the reader and never contain secrets.
 */
export abstract class SluiceError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export abstract class DomainError extends SluiceError {
  abstract readonly status: number;
  abstract readonly title: string;
}

/** A failure of a system outside sluice, with a stable code and whether a later retry can help. */
export abstract class ExternalError<Code extends string = string> extends SluiceError {
  constructor(
    readonly code: Code,
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export class ValidationError extends DomainError {
  readonly code = 'validation_failed';
  readonly status = 400;
  readonly title = 'Invalid request';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '));
  }
}

export class UnauthorizedError extends DomainError {
  readonly code = 'unauthorized';
  readonly status = 401;
  readonly title = 'Unauthorized';
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
  readonly status = 404;
  readonly title = 'Not found';
}

export class ConflictError extends DomainError {
  readonly code = 'conflict';
  readonly status = 409;
  readonly title = 'Conflict';
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

/**
 * A version that a retry cannot help (409, code `not_retryable`): its name is unsafe, or its server
 * is gone. Refused rather than sent round again to the same quarantine (and dead-letter queue).
 */
export class NotRetryableError extends DomainError {
  readonly code = 'not_retryable';
  readonly status = 409;
  readonly title = 'Not retryable';
}

export class PayloadTooLargeError extends DomainError {
  readonly code = 'payload_too_large';
  readonly status = 413;
  readonly title = 'Payload too large';
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'unsupported_media_type';
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

export type SftpErrorCode =
  | 'host_key_mismatch'
  /** SFTP_HOST_KEY_POLICY=pinned and the server has no pinned hostKey: credentials are not sent. */
  | 'host_key_not_pinned'
  /** Nothing pinned or recorded yet to compare the presented key with (the test route only). */
  | 'host_key_unknown'
  /** The host is (or resolves to) an address SFTP_DENY_CIDRS / SFTP_ALLOW_CIDRS refuse. */
  | 'destination_denied'
  /** The listing passed a bound (POLL_MAX_ENTRIES, POLL_MAX_DEPTH). */
  | 'listing_too_large'
  | 'auth_failed'
  | 'connect_failed'
  | 'timeout'
  | 'connection_lost'
  | 'not_found'
  | 'permission_denied'
  | 'protocol';

/**
 * A failure talking to an SFTP server, with a stable code shown to operators (`lastError.code`).
 * `retryable` says whether trying again later can help (a refused password or host key cannot).
 */
export class SftpError extends ExternalError<SftpErrorCode> {
  constructor(code: SftpErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options.retryable ?? true, { cause: options.cause });
  }
}

/** This worker's lease on a file was taken over (it ran past the lease); it must stop touching it. */
export class LeaseLostError extends SluiceError {
  readonly code = 'lease_lost';
  constructor(fileId: string) {
    super(`the transfer lease on ${fileId} was taken over by another worker`);
  }
}

export type PublishErrorCode = 'broker_unavailable' | 'nacked' | 'timeout' | 'unroutable' | 'exchange_missing' | 'access_refused';

const PUBLISH_RETRYABLE: Record<PublishErrorCode, boolean> = {
  broker_unavailable: true,
  nacked: true,
  timeout: true,
  unroutable: false,
  exchange_missing: false,
  access_refused: false,
};

/**
 * A publish the broker did not confirm, with a stable code. `retryable` says whether publishing the
 * same message again later can help (a missing exchange or binding, or refused credentials, cannot).
 * Messages name the broker with its password redacted and never carry credentials.
 */
export class PublishError extends ExternalError<PublishErrorCode> {
  constructor(code: PublishErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, PUBLISH_RETRYABLE[code], options);
  }
}

export class ServiceUnavailableError extends DomainError {
  readonly code = 'service_unavailable';
  readonly status = 503;
  readonly title = 'Service unavailable';
}

export type StoreErrorCode = 'checksum_mismatch' | 'upload_lost' | 'access_denied' | 'bucket_missing' | 'store_unavailable' | 'store_rejected';

const STORE_RETRYABLE: Record<StoreErrorCode, boolean> = {
  checksum_mismatch: true,
  upload_lost: true,
  access_denied: false,
  bucket_missing: false,
  store_unavailable: true,
  store_rejected: true,
};

/**
 * A request the object store (S3, MinIO) refused or did not answer, with a stable code.
 * `checksum_mismatch`: the bytes it received do not match the SHA-256 sent with them (send again);
 * `upload_lost`: the multipart upload is gone (aborted): start a new one.
 */
export class StoreError extends ExternalError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, STORE_RETRYABLE[code], options);
  }
}

/**
 * A secret whose value is not what sluice keeps there: credentials that are not JSON or not of the
 * expected shape, a broker URL that is not one. The message names the secret (an operator's secret by
 * its id; a server's, shown by the API, as "the stored secret") and what is wrong in general terms,
 * never any part of the value; and no parser error is kept as `cause`, since JSON.parse's
 * SyntaxError quotes the start of its input and Node prints causes. Not retryable: trying again
 * cannot help until someone replaces the value.
 */
export class SecretInvalidError extends ExternalError<'secret_invalid'> {
  constructor(
    readonly secretId: string,
    problem: string,
    /** How the message names the secret; a server's is not named by its ARN (the API does not show where secrets are stored). */
    label = `secret ${secretId}`,
  ) {
    super('secret_invalid', `${label} ${problem}`, false);
  }
}

/** The environment's configuration is invalid; each problem names its variable, never its value. */
export class ConfigError extends SluiceError {
  readonly code = 'config_invalid';
  readonly variables: string[];
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration: ${problems.map((problem) => `${problem.variable}: ${problem.message}`).join('; ')}`);
    this.variables = problems.map((problem) => problem.variable);
  }
}

/** A saved digest state that this build cannot continue (corrupt, or written by another hash build). */
export class HashStateError extends SluiceError {
  readonly code = 'hash_state_invalid';
  constructor(cause: unknown) {
    super('the saved SHA-256 state cannot be restored', { cause });
  }
}

/** A remote path that would make an unsafe object key (lib/domain/object-key.ts says which). */
export class UnsafeKeyError extends SluiceError {
  readonly code = 'unsafe_key';
}

/** A file pattern that is not a valid glob (lib/domain/glob.ts). */
export class GlobSyntaxError extends SluiceError {
  readonly code = 'glob_invalid';
}

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An error's class and message (`TypeError: x is undefined`), for log lines about unexpected failures. */
export function errorSummary(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
