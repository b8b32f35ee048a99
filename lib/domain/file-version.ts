import { z } from 'zod';

/**
 * A file version: one (server, path, size, mtime) sluice has seen, the unit of every ledger, queue
 * message and announcement. Its fields are declared here once; the ledgers, the queues' bodies, the
 * API view and the AMQP message are shapes of it, derived below.
 */

/** 32 lowercase hex digits (fileVersionId in file-identity.ts makes them). */
export const FILE_ID_PATTERN = /^[0-9a-f]{32}$/;
export const FileId = z.string().regex(FILE_ID_PATTERN, 'must be a file id: 32 hexadecimal digits');

/** Every status a version can be in, in the order the API, the stats and the metrics list them. */
export const FILE_STATUSES = ['pending', 'transferring', 'uploaded', 'notified', 'failed', 'quarantined', 'vanished'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

/** What the transfer queue carries: enough to find the file and to check it is still this version. */
export const TransferJob = z.object({
  fileId: FileId,
  serverId: z.string().min(1),
  remotePath: z.string().min(1),
  size: z.number().int().min(0),
  /** The source file's modification time, epoch seconds. */
  mtime: z.number().int(),
});
export type TransferJob = z.infer<typeof TransferJob>;

/** What the notify queue carries. */
export const NotifyJob = z.object({
  fileId: FileId,
  /**
   * Announce it even if it was announced already, with its original messageId (a server-wide
   * renotify); without it a notified version's job is a no-op.
   */
  again: z.literal(true).optional(),
});
export type NotifyJob = z.infer<typeof NotifyJob>;

/** A version as the poll records it at detection. */
export interface DetectedFile extends TransferJob {
  serverName: string;
  /** Its path below the server's remoteDir (the object key's tail). */
  relativePath: string;
  discoveredAt: string;
}

/** A version as the sweep finds it, stale in its status. */
export interface StaleFile extends TransferJob {
  statusSince: string;
  uploadId?: string;
  objectKey?: string;
  notifyParked?: boolean;
}

/** The one way a transfer job is made (poll, sweep, retry, dead-letter re-drive). */
export function transferJobOf(file: TransferJob): TransferJob {
  return { fileId: file.fileId, serverId: file.serverId, remotePath: file.remotePath, size: file.size, mtime: file.mtime };
}

/** The transfer job of a version the API shows (its mtime back in epoch seconds). */
export function transferJobOfView(view: FileView): TransferJob {
  return transferJobOf({ ...view, mtime: Math.round(Date.parse(view.mtime) / 1000) });
}

/** What the API shows of one version (GET /files, GET /files/{id}; the OpenAPI document's FileView). */
export const FileView = z.object({
  fileId: FileId,
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
  /** Progress of an interrupted or running upload. */
  uploadedBytes: z.int().nullable(),
  /** When the broker first confirmed the announcement. */
  notifiedAt: z.iso.datetime().nullable(),
  /** Failed announcement attempts since the last success. */
  notifyAttempts: z.int(),
  /** The broker kept refusing the announcement; `POST /files/{id}/renotify` tries again. */
  notifyParked: z.boolean(),
});
export type FileView = z.infer<typeof FileView>;

/** The body of a `file.ingested` AMQP message (docs/consumer.md); its messageId is the fileId. */
export const FileIngestedMessage = z.object({
  fileId: FileId,
  serverId: z.string(),
  serverName: z.string(),
  remotePath: z.string(),
  size: z.int(),
  /** The source file's modification time, ISO 8601. */
  mtime: z.iso.datetime(),
  sha256: z.string(),
  bucket: z.string(),
  key: z.string(),
  etag: z.string(),
  /** Only when the bucket is versioned. */
  versionId: z.string().optional(),
  /** When the object was stored and verified, ISO 8601. */
  ingestedAt: z.iso.datetime(),
});
export type FileIngestedMessage = z.infer<typeof FileIngestedMessage>;
