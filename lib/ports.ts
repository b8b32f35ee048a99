import type { ServerRecord } from './domain/server';
import type { ServerCredentials } from './domain/credentials';
import type { ListedFile } from './domain/file-identity';
import type { ListingBounds } from './domain/listing-bounds';
import type { ListingFilter } from './domain/listing-filter';
import type { Snapshot } from './domain/snapshot';
import type { StatsSnapshot } from './domain/stats';

/** Result of a conditional write that can lose a race: a lost race is a value, not an exception. */
export type PutResult = 'created' | 'name-taken' | 'prefix-taken' | 'limit-reached';
export type UpdateResult = 'updated' | 'name-taken' | 'prefix-taken' | 'stale' | 'missing';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; undefined on the last page. */
  nextToken?: string;
}

/** Persistence of server registrations. Names are unique across all servers. */
export interface ServerStore {
  /**
   * Creates the server and claims its name and key prefix atomically: 'name-taken', 'prefix-taken'
   * (the prefix equals, contains or lies inside another server's), 'limit-reached' (`maxServers`).
   */
  create(server: ServerRecord, options?: { maxServers?: number }): Promise<PutResult>;
  get(id: string): Promise<ServerRecord | undefined>;
  /** Servers in creation order. Throws InvalidCursorError for a cursor it did not issue. */
  list(limit: number, nextToken?: string): Promise<Page<ServerRecord>>;
  /**
   * Replaces the server if its stored version is still `expected.version`; moves the name claim on
   * a rename and the key prefix claim on a new keyPrefix (`expected` holds the stored name and prefix).
   */
  update(server: ServerRecord, expected: { version: number; name: string; keyPrefix: string }): Promise<UpdateResult>;
  /** Deletes the server and releases its name; false if it did not exist. */
  delete(server: ServerRecord): Promise<boolean>;
}

/** Credential storage (AWS Secrets Manager). Values never leave this port except to open a connection. */
export interface SecretStore {
  /** Creates a secret and returns its ARN. */
  create(name: string, credentials: ServerCredentials, description: string): Promise<string>;
  /**
   * Stores a new version that replaces the current value; 'gone' (nothing written) when the secret
   * was deleted or is scheduled for deletion.
   */
  replace(arn: string, credentials: ServerCredentials): Promise<'replaced' | 'gone'>;
  /** A value that is not sluice credentials is a SecretInvalidError (naming the secret, quoting none of it). */
  read(arn: string): Promise<ServerCredentials>;
  /**
   * Schedules the deletion after a recovery window (the secret can be restored until then, and reads
   * of it fail meanwhile); `force` deletes at once, for rolling back a secret just created and never
   * used (its name is then free again at once). Missing or already scheduled secrets are not an error.
   */
  delete(arn: string, options?: { force?: boolean }): Promise<void>;
}

/** Whether what the API needs answers (the health route). */
export interface ReadinessProbe {
  /** Resolves when ready; rejects with the reason otherwise. */
  check(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newId(): string;
}

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

// --- Detection -------------------------------------------------------------------------------

/** A server's polling status, kept apart from its registration so API writes never clobber it. */
export interface PollState {
  serverId: string;
  lastPollAt?: string;
  lastSuccessAt?: string;
  lastError?: { code: string; message: string; at: string } | null;
  consecutiveFailures: number;
  nextPollAt?: string;
  /** SHA-256 fingerprint of the host key seen on first connection (when no hostKey is pinned). */
  observedHostKey?: string;
  /** Where the current snapshot lives (opaque to the domain). */
  snapshotRef?: string;
  filesSeen?: number;
}

export interface PollOutcome {
  lastPollAt: string;
  lastError: PollState['lastError'];
  consecutiveFailures: number;
  nextPollAt: string;
  filesSeen?: number;
}

/** Polling status, the per-server poll lease, and the compact listing snapshot. */
export interface PollStateStore {
  /**
   * Takes the server's poll lease when it is free or has lapsed (a crashed poller's lease expires)
   * and the server is due by `dueBy` (backoff), returning the current state; 'busy' when another
   * poller holds the lease, 'not-due' when the server's nextPollAt is later.
   */
  acquireLease(serverId: string, owner: string, leaseUntil: Date, dueBy?: Date): Promise<PollState | 'busy' | 'not-due'>;
  releaseLease(serverId: string, owner: string): Promise<void>;
  loadSnapshot(state: PollState): Promise<Snapshot>;
  /** Records the outcome (and a new snapshot, when given) and releases the lease if still ours. */
  finish(serverId: string, owner: string, outcome: PollOutcome, snapshot?: Snapshot): Promise<void>;
  /** Records the first host key seen; false if one was recorded meanwhile. */
  recordHostKey(serverId: string, fingerprint: string): Promise<boolean>;
  get(serverId: string): Promise<PollState | undefined>;
  getMany(serverIds: string[]): Promise<Map<string, PollState>>;
  /** Removes everything polling kept for a server (on deletion). */
  forget(serverId: string): Promise<void>;
  /** Drops the host key recorded on first connection (the server moved to another host or port). */
  forgetHostKey(serverId: string): Promise<void>;
}

/** Fleet-wide cap on concurrent SFTP sessions per server. */
export interface ConnectionSlots {
  /** A slot token, or undefined when all `max` slots are held (and unexpired). */
  acquire(serverId: string, max: number, owner: string, until: Date): Promise<string | undefined>;
  release(serverId: string, slot: string, owner: string): Promise<void>;
  /** Extends a held slot (long transfers); false when it was lost. */
  renew(serverId: string, slot: string, owner: string, until: Date): Promise<boolean>;
}

/** A ledger entry as created at detection. */
export interface DetectedFile {
  fileId: string;
  serverId: string;
  serverName: string;
  remotePath: string;
  relativePath: string;
  size: number;
  mtime: number;
  discoveredAt: string;
}

export type LedgerCreateResult = { created: true } | { created: false; status: string };

/** The per-file-version ledger; its conditional create is the dedup lock. */
export interface FileLedger {
  createIfAbsent(file: DetectedFile): Promise<LedgerCreateResult>;
  /** Like createIfAbsent, but the version starts (and stays) `quarantined` with `error`: it gets no transfer. */
  createQuarantined(file: DetectedFile, error: { code: string; message: string }): Promise<LedgerCreateResult>;
}

export interface TransferJob {
  fileId: string;
  serverId: string;
  remotePath: string;
  size: number;
  mtime: number;
}

export interface JobQueue<T> {
  /** Hides a received message for `seconds` (retry with backoff through SQS visibility). */
  retryAfter?(receiptHandle: string, seconds: number): Promise<void>;
  /** Sends in batches of ten; resolves when every message is accepted. */
  sendAll(messages: T[], delaySeconds?: number): Promise<void>;
  /** Like sendAll, with a delay (0–900 s) per message. */
  sendEntries(entries: { message: T; delaySeconds?: number }[]): Promise<void>;
}

export interface PollTick {
  serverId: string;
  /** When this poll is due (ISO time); ticks that arrive early for a backed-off server are skipped. */
  dueAt: string;
}

/** One open SFTP session on a server. */
export interface SftpSession extends SftpFileReader {
  remove(path: string): Promise<void>;
  /** Moves a file, creating the target's directories. */
  move(from: string, to: string): Promise<void>;
  /**
   * Regular files under `dir` (recursively if asked), streamed page by page; a SftpError
   * `listing_too_large` once the listing passes `bounds`. Entries with unsafe names are yielded
   * without any request naming them (a directory as `directory: true`, not descended into).
   */
  listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter; bounds: ListingBounds }): AsyncIterable<ListedFile>;
  /** Drops the connection now: every request in flight, and any later one, fails with `reason`. */
  abort(reason: Error): void;
  /** The first directory page the server returns for `dir` (at most `limit` entries), unfiltered. */
  firstEntries(dir: string, limit: number): Promise<DirectoryEntry[]>;
  close(): Promise<void>;
}

/** One entry of a raw directory page; `name` exactly as the server sent it (escape before showing). */
export interface DirectoryEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Null when the server did not say. */
  size: number | null;
  /** Seconds since the epoch; null when the server did not say. */
  mtime: number | null;
}

export interface SftpConnector {
  /**
   * Opens a session. With `expectedHostKey` set, a server presenting another key is refused with a
   * SftpError of code `host_key_mismatch`. Resolves with the fingerprint the server presented.
   */
  connect(
    server: ServerRecord,
    credentials: ServerCredentials,
    expectedHostKey: string | undefined,
  ): Promise<{ session: SftpSession; hostKey: string }>;
  /**
   * The fingerprint the server presents, learnt without sending any credential (the connection is
   * dropped at host key verification). Destination rules and deadlines apply as for connect.
   */
  presentedHostKey(server: ServerRecord): Promise<string>;
}

// --- Transfer ----------------------------------------------------------------------------------

export type FileStatus = 'pending' | 'transferring' | 'uploaded' | 'notified' | 'failed' | 'vanished' | 'quarantined';

export interface UploadedPart {
  partNumber: number;
  etag: string;
  checksumSha256: string;
}

/** A ledger entry as the transfer sees it after claiming it. */
export interface ClaimedFile extends Omit<DetectedFile, 'discoveredAt'> {
  attempts: number;
  /** The status the claim took it from. */
  previousStatus: 'pending' | 'failed' | 'transferring';
  /** Resume state of an interrupted multipart upload. */
  upload?: { uploadId: string; key: string; partSize: number; uploadedBytes: number; hashState: string; partCount: number };
}

export type ClaimResult = ClaimedFile | 'done' | 'busy' | 'gone' | 'missing';

export interface UploadResult {
  key: string;
  bucket: string;
  sha256: string;
  etag: string;
  versionId?: string;
  /** The store's own SHA-256 checksum of the object (base64; `-<parts>` for a composite of parts). */
  objectChecksum?: string;
}

/** The transfer's view of the files table: a claim with a lease, progress checkpoints, outcomes. */
export interface TransferLedger {
  /**
   * Claims a version for transfer when it is pending, failed, or transferring under a lapsed lease
   * (its worker died). 'done' when already uploaded or notified, 'busy' when a live worker holds it,
   * 'gone' when vanished or quarantined.
   */
  claim(fileId: string, owner: string, leaseUntil: Date): Promise<ClaimResult>;
  /** Extends the lease; false when it was lost (another worker took over). */
  renewLease(fileId: string, owner: string, leaseUntil: Date): Promise<boolean>;
  startUpload(fileId: string, owner: string, upload: { uploadId: string; key: string; partSize: number; hashState: string }): Promise<void>;
  /** Persists completed parts and the contiguous prefix they cover, with the digest state there. */
  checkpoint(fileId: string, owner: string, progress: { uploadId: string; uploadedBytes: number; hashState: string; parts: UploadedPart[]; partCount: number }): Promise<void>;
  loadParts(fileId: string, uploadId: string, partCount: number): Promise<UploadedPart[]>;
  forgetUpload(fileId: string, owner: string): Promise<void>;
  markUploaded(fileId: string, owner: string, result: UploadResult): Promise<void>;
  /** Retryable failure: back to `failed` with the lease released; false when the lease was lost (nothing changed). */
  markFailed(fileId: string, owner: string, error: { code: string; message: string }, nextAttemptAt: Date): Promise<boolean>;
  /** False when the lease was lost (nothing changed). */
  markFinal(fileId: string, owner: string, status: 'vanished' | 'quarantined', error: { code: string; message: string }): Promise<boolean>;
  /**
   * Hands the claim on to the next delivery (which continues the upload). The attempt stays
   * counted: a file gets at most maxAttempts invocations however each ends, so a server that
   * trickles bytes forever ends quarantined instead of holding a slot in an endless loop. False
   * when the lease was lost (nothing changed).
   */
  release(fileId: string, owner: string): Promise<boolean>;
}

/** Where an object came from, stored as its user metadata. */
export interface ObjectMetadata {
  fileId: string;
  sourcePath: string;
  sourceMtime: string;
  serverName: string;
}

/** An object (version) as the store committed it. */
export interface StoredObject {
  etag: string;
  /** Only when the bucket is versioned. */
  versionId?: string;
  /** The store's SHA-256 checksum: the whole object's for a single PUT, a composite for multipart. */
  checksum?: string;
}

/**
 * S3 or MinIO. Every body goes with its SHA-256 and the store refuses one that does not match
 * (StoreError `checksum_mismatch`); failures are StoreErrors with a code and `retryable`.
 */
export interface ObjectStore {
  readonly bucket: string;
  /** One PUT; `sha256` (hex, the whole file's) is also recorded on the object (a tag) where enabled. */
  putObject(key: string, body: Buffer, sha256: string, metadata: ObjectMetadata): Promise<StoredObject>;
  createMultipartUpload(key: string, metadata: ObjectMetadata): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string): Promise<string>;
  /** The parts the store holds for an upload; 'unsupported' when it cannot list them. */
  listParts(key: string, uploadId: string): Promise<UploadedPart[] | 'unsupported'>;
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<StoredObject>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** Records the whole file's SHA-256 (hex) on a committed object without copying it (a tag), where enabled. */
  recordDigest(key: string, versionId: string | undefined, sha256: string): Promise<void>;
  /** Size of a stored object (that version), or undefined when absent. */
  objectSize(key: string, versionId?: string): Promise<number | undefined>;
  /** Multipart uploads in progress (at most about `limit`); 'unsupported' when the store cannot list them. */
  listMultipartUploads(limit: number): Promise<MultipartUploadInfo[] | 'unsupported'>;
}

export interface MultipartUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface NotifyJob {
  fileId: string;
  /**
   * Announce it even if it was announced already, with its original messageId (a server-wide
   * renotify); without it a notified version's job is a no-op.
   */
  again?: true;
}

/** A remote file's current attributes. */
export interface RemoteStat {
  size: number;
  mtime: number;
}

export interface ReadOptions {
  /**
   * Chunks are lent, not given: each is valid only until the next is requested (the reader reuses
   * its buffers instead of leaving one garbage buffer per chunk for the collector).
   */
  lendChunks?: boolean;
  /**
   * Aborting ends the read with a `timeout` SftpError and drops the connection (its requests in
   * flight could otherwise hold the read until the server answers them).
   */
  signal?: AbortSignal;
}

/** Reads one remote file, sequentially or from an offset. */
export interface SftpFileReader {
  stat(path: string): Promise<RemoteStat | undefined>;
  /** Bytes [start, end) in order, as chunks; ends early if the file is shorter. */
  read(path: string, start: number, end: number, options?: ReadOptions): AsyncIterable<Buffer>;
}

/** What the API shows of one file version. */
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
  lastError: { code: string; message: string; at?: string } | null;
  nextAttemptAt: string | null;
  bucket: string | null;
  key: string | null;
  sha256: string | null;
  etag: string | null;
  versionId: string | null;
  objectChecksum: string | null;
  uploadedAt: string | null;
  /** Progress of an interrupted or running upload. */
  uploadedBytes: number | null;
  /** When the broker first confirmed the announcement. */
  notifiedAt: string | null;
  /** Failed announcement attempts since the last success. */
  notifyAttempts: number;
  notifyParked: boolean;
}

/** Ingestion history; kept when a server is deleted. */
export interface FileCatalog {
  get(fileId: string): Promise<FileView | undefined>;
  listByServer(serverId: string, limit: number, nextToken?: string, status?: string): Promise<Page<FileView>>;
}

/** What one ingested file's announcement carries (the AMQP message body). */
export interface FileIngestedMessage {
  fileId: string;
  serverId: string;
  serverName: string;
  remotePath: string;
  size: number;
  /** The source file's modification time, ISO 8601. */
  mtime: string;
  sha256: string;
  bucket: string;
  key: string;
  etag: string;
  /** Only when the bucket is versioned. */
  versionId?: string;
  /** When the object was stored and verified, ISO 8601. */
  ingestedAt: string;
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

export interface StaleFile {
  fileId: string;
  serverId: string;
  remotePath: string;
  size: number;
  mtime: number;
  statusSince: string;
  uploadId?: string;
  objectKey?: string;
  notifyParked?: boolean;
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

// --- Metrics -----------------------------------------------------------------------------------

/**
 * Counters kept as versions change state (lib/domain/stats.ts), accumulated in memory and written
 * by `flush` (one write per touched stats item) at the end of each invocation: a scrape then
 * reads a few items instead of the files table.
 */
export interface StatsRecorder {
  /** A version moved from `from` (undefined: just created) to `to`. */
  transition(serverId: string, from: FileStatus | undefined, to: FileStatus): void;
  ingested(serverId: string, bytes: number, at: Date): void;
  failure(serverId: string, code: string, at: Date): void;
  notified(serverId: string, detectToNotifySeconds: number): void;
  /** Writes what was accumulated; deltas a write did not store are kept for the next flush. */
  flush(): Promise<void>;
}

/**
 * What the functions report to the platform's metrics (CloudWatch through embedded metric format on
 * AWS): the rates and latencies alarms and the dashboard watch, as opposed to StatsRecorder's
 * counters the API reads. Recorded as things happen, written by `publish` at the end of each
 * invocation. Failure codes become a dimension, so every metric is also kept without one.
 */
export interface OperationalMetrics {
  /** A version's object was stored and verified, `transferSeconds` after its transfer was claimed. */
  fileIngested(bytes: number, transferSeconds: number): void;
  fileNotified(detectToNotifySeconds: number): void;
  /**
   * A version's transfer attempt failed and is retried later, or the version ended `quarantined` or
   * `vanished` (a quarantine may come from detection: an unsafe name).
   */
  fileFailed(code: string, outcome: 'retrying' | 'quarantined' | 'vanished'): void;
  /** A poll failed; `consecutiveFailures` is the server's run of failed polls including this one. */
  pollFailed(code: string, consecutiveFailures: number): void;
  /** An announcement the broker refused too often, set aside for an operator. */
  notificationParked(code: string): void;
  publish(): void;
}

/**
 * Where error-level log lines are also reported (Sentry when SENTRY_DSN is set). It receives what the
 * log line holds, already redacted; it never throws and never waits on the caller's path.
 */
export interface ErrorReporter {
  report(event: string, fields: Record<string, unknown>): void;
  /** Sends what is pending, within a short deadline (the end of each invocation). */
  flush(): Promise<void>;
}

/** Reads back what StatsRecorder wrote. */
export interface StatsReader {
  /** One server's counters, or every server's together (`serverId` undefined), as of `now`. */
  read(serverId: string | undefined, now: Date): Promise<StatsSnapshot>;
}

export const QUEUES = ['poll', 'transfer', 'notify', 'poll-dlq', 'transfer-dlq', 'notify-dlq'] as const;
export type QueueName = (typeof QUEUES)[number];

/** Approximate depths of sluice's queues (SQS GetQueueAttributes). */
export interface QueueDepths {
  depths(): Promise<{ queue: QueueName; visible: number; inflight: number }[]>;
}

/** The sweeper's repair of drifted per-status counters (lib/use-cases/sweep.ts). */
export interface StatsReconciler {
  /** Takes the reconcile for `intervalSeconds`, fleet-wide; false when another sweeper did it within that. */
  claimReconcile(now: Date, intervalSeconds: number): Promise<boolean>;
  /** The per-status counters stored for each server (missing ones are zeros). */
  storedCounts(serverIds: string[]): Promise<Map<string, Record<FileStatus, number>>>;
  /** The versions of a server counted by status (its whole history, page by page); undefined past `deadline`. */
  countVersions(serverId: string, deadline: Date): Promise<Record<FileStatus, number> | undefined>;
  /** Adds `delta` to the server's and the deployment's per-status counters. */
  correct(serverId: string, delta: Partial<Record<FileStatus, number>>): Promise<void>;
}
