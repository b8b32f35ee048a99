// The API's response shapes the console reads (functions/http/schemas.ts and lib/domain/server.ts declare them).

export const FILE_STATUSES = ['pending', 'transferring', 'uploaded', 'notified', 'failed', 'quarantined', 'vanished'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

/** Statuses POST /files/{id}/retry and POST /servers/{id}/retry take back to pending. */
export const RETRYABLE_STATUSES: readonly string[] = ['failed', 'quarantined', 'vanished'];

export interface ErrorInfo {
  code: string;
  message: string;
  at?: string;
}

/** A server as GET /servers shows it: the API's own type (erased from the bundle: a type import only). */
export type { ServerView as Server } from '../../lib/domain/server';

export interface FileView {
  fileId: string;
  serverId: string;
  serverName: string;
  remotePath: string;
  relativePath: string;
  size: number;
  mtime: string;
  status: string;
  statusSince: string;
  discoveredAt: string;
  attempts: number;
  lastError: ErrorInfo | null;
  nextAttemptAt: string | null;
  bucket: string | null;
  key: string | null;
  sha256: string | null;
  etag: string | null;
  versionId: string | null;
  objectChecksum: string | null;
  uploadedAt: string | null;
  uploadedBytes: number | null;
  notifiedAt: string | null;
  notifyAttempts: number;
  notifyParked: boolean;
}

export interface Page<T> {
  items: T[];
  nextToken: string | null;
}

export interface HourStats {
  hour: string;
  filesIngested: number;
  bytesIngested: number;
  failures: number;
}

export interface Stats {
  serverId: string | null;
  counts: Record<FileStatus, number>;
  totals: { filesIngested: number; bytesIngested: number };
  last24h: { since: string; filesIngested: number; bytesIngested: number; failures: Record<string, number>; hourly?: HourStats[] };
  detectToNotify: { buckets: { le: number; count: number }[]; sum: number; count: number };
}

export interface ServerTestResult {
  ok: boolean;
  hostKey: string | null;
  hostKeyTrusted: boolean;
  authenticated: boolean;
  entries: { name: string; type: string; size: number | null; mtime: string | null }[] | null;
  error: { code: string; message: string } | null;
}

/** RFC 9457 problem details as the API sends them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: { field: string; message: string }[];
}
