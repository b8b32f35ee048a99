import type { FileIngestedMessage, FileStatus, FileView, StaleFile } from '../domain/file-version';
import type { Page } from './servers';

// The ingestion history, the broker, the notification and re-drive ledgers, the dead-letter queues.

/** Ingestion history; kept when a server is deleted. */
export interface FileCatalog {
  get(fileId: string): Promise<FileView | undefined>;
  listByServer(serverId: string, limit: number, nextToken?: string, status?: string): Promise<Page<FileView>>;
}

/** Publishes announcements; resolves only once the broker has taken responsibility (confirm). */
export interface Publisher {
  publish(message: FileIngestedMessage): Promise<void>;
  close(): Promise<void>;
}

/** The notifier's view of the files table. */
export interface NotificationLedger {
  /**
   * Takes the right to announce an uploaded version for `until` (so two deliveries of its job do
   * not both publish) and returns the version. 'notified' when already announced (unless `again`),
   * 'not-uploaded' when the version has no object yet, 'busy' when another notifier holds it,
   * 'missing' when unknown.
   */
  claim(fileId: string, until: Date, again: boolean): Promise<FileView | 'notified' | 'not-uploaded' | 'busy' | 'missing'>;
  /** True when this was the version's first confirmed announcement (it was `uploaded`). */
  markNotified(fileId: string, at: Date): Promise<boolean>;
  /** Records why announcing failed and releases the claim; returns the failures so far. */
  recordFailure(fileId: string, error: { code: string; message: string }): Promise<number>;
  /** Stops the outbox sweep from retrying the version until it is renotified. */
  park(fileId: string): Promise<void>;
}

/** Versions that have sat in one status since before a moment (the outbox and stuck transfers). */
export interface StaleFiles {
  /** The oldest versions (at most `limit`) in `status` since before `since`. */
  list(status: FileStatus, since: Date, limit: number): Promise<StaleFile[]>;
  /** Upload ids of every version still in transfer (pending, transferring, failed), however many. */
  uploadsInUse(): Promise<Set<string>>;
}

/** The operator's re-drive and replay of a server's file versions (lib/use-cases/redrive.ts). */
export interface RedriveLedger {
  /**
   * Sends a version back to `pending` with its attempts reset, only if it is still in the status it
   * was read in (status and statusSince): of two concurrent retries exactly one wins. It forgets the
   * multipart upload of a quarantined or vanished version (finalize aborted it) and keeps a failed
   * one's, to resume; lastError stays until the next outcome replaces it. Returns the version as it
   * is now, or 'stale' when it changed since it was read.
   */
  requeue(seen: Pick<FileView, 'fileId' | 'status' | 'statusSince'>, at: Date): Promise<FileView | 'stale'>;
  /**
   * A server's versions in `statuses`, or notified (first confirmed) at or after `notifiedSince`,
   * page by page through its whole history.
   */
  versionsOf(serverId: string, filter: { statuses: FileStatus[] } | { notifiedSince: Date }): AsyncIterable<FileView[]>;
}

/** A message taken from a dead-letter queue, hidden from other readers until deleted or released. */
export interface DeadLetter {
  /** The queue's id of the message (the same across receives). */
  messageId: string;
  receiptHandle: string;
  body: string;
}

/** A dead-letter queue as the redrive reads it. */
export interface DeadLetterQueue {
  /** Up to ten messages, each hidden for the rest of the run; none once the queue shows no more. */
  receive(): Promise<DeadLetter[]>;
  delete(messages: DeadLetter[]): Promise<void>;
  /** Makes messages visible again within a second (those the redrive leaves where they are). */
  release(messages: DeadLetter[]): Promise<void>;
}
