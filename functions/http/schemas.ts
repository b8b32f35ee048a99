import { z } from 'zod';
import { RETRYABLE_STATUSES } from '../../lib/use-cases/redrive';

export { CreateServerInput, UpdateServerInput, ServerViewSchema } from '../../lib/domain/server';

export const ServerIdParams = z.object({ id: z.string().min(1).max(128) });

export const ListServersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  nextToken: z.string().min(1).max(2048).optional(),
});

export const FileIdParams = z.object({ id: z.string().min(1).max(128) });

export const FILE_STATUSES = ['pending', 'transferring', 'uploaded', 'notified', 'failed', 'vanished', 'quarantined'] as const;

export const ListFilesQuery = z.strictObject({
  serverId: z.string().min(1).max(128),
  status: z.enum(FILE_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  nextToken: z.string().min(1).max(2048).optional(),
});

/** `POST /servers/{id}/retry`: which versions to retry (default: every retryable status). */
export const RetryServerQuery = z.strictObject({ status: z.enum(RETRYABLE_STATUSES).optional() });

/** `POST /servers/{id}/renotify`: versions first announced at or after `since` (ISO 8601, `Z` or an offset). */
export const RenotifyServerQuery = z.strictObject({ since: z.iso.datetime({ offset: true }) });

const complete = z.boolean().describe('False when the time budget ran out first: call again for the rest');
export const RetriedSchema = z.object({ retried: z.int().describe('Versions sent back to pending, each with its transfer job enqueued'), complete });
export const QueuedSchema = z.object({ queued: z.int().describe('Notify jobs enqueued, one per version, each re-published with its original messageId'), complete });

/** The shape of a file version in responses (documentation; the catalog builds it). */
export const FileViewSchema = z.object({
  fileId: z.string().regex(/^[0-9a-f]{32}$/),
  serverId: z.string(),
  serverName: z.string(),
  remotePath: z.string(),
  relativePath: z.string(),
  size: z.int(),
  mtime: z.iso.datetime(),
  status: z.enum(FILE_STATUSES),
  statusSince: z.iso.datetime(),
  discoveredAt: z.iso.datetime(),
  attempts: z.int(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string().optional() }).nullable(),
  nextAttemptAt: z.iso.datetime().nullable(),
  bucket: z.string().nullable(),
  key: z.string().nullable(),
  sha256: z.string().nullable(),
  etag: z.string().nullable(),
  /** The object version this file version's bytes are (versioned buckets). */
  versionId: z.string().nullable(),
  /** The store's own SHA-256 checksum of the object: base64, with `-<parts>` for a composite of parts. */
  objectChecksum: z.string().nullable(),
  uploadedAt: z.iso.datetime().nullable(),
  uploadedBytes: z.int().nullable(),
  notifiedAt: z.iso.datetime().nullable(),
  notifyAttempts: z.int(),
  /** The broker kept refusing the announcement; `POST /files/{id}/renotify` tries again. */
  notifyParked: z.boolean(),
});
