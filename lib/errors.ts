/** One invalid input field: `field` is a dotted path into the request (`port`, `query.limit`). */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Base of every error the domain raises on purpose. `code` is stable (clients and logs key on it);
 * `status` is the HTTP status the API maps it to, in one place (lib/http/problem.ts).
 * Messages are written for the caller and never contain secrets.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  abstract readonly title: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
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
export class SftpError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: SftpErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SftpError';
    this.retryable = options.retryable ?? true;
  }
}

/** This worker's lease on a file was taken over (it ran past the lease); it must stop touching it. */
export class LeaseLostError extends Error {
  constructor(fileId: string) {
    super(`the transfer lease on ${fileId} was taken over by another worker`);
    this.name = 'LeaseLostError';
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
export class PublishError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: PublishErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'PublishError';
    this.retryable = PUBLISH_RETRYABLE[code];
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
export class StoreError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'StoreError';
    this.retryable = STORE_RETRYABLE[code];
  }
}
