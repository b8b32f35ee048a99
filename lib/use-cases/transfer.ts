import type { HostKeyPolicy } from '../domain/host-key';
import { objectKey } from '../domain/object-key';
import type { ServerRecord } from '../domain/server';
import { errorMessage, LeaseLostError, UnsafeKeyError } from '../errors';
import { uploadInParts } from './multipart-upload';
import { SftpSessions, type BorrowedSession } from './sftp-sessions';
import { finalize, nowOf, recordFailure } from './transfer-failures';
import { uploadWhole } from './whole-upload';
import type {
  ClaimedFile,
  Clock,
  ConnectionSlots,
  JobQueue,
  Logger,
  NotifyJob,
  ObjectMetadata,
  ObjectStore,
  PollStateStore,
  SecretStore,
  ServerStore,
  SftpConnector,
  SftpSession,
  OperationalMetrics,
  StatsRecorder,
  TransferJob,
  TransferLedger,
} from '../ports';

export interface TransferDeps {
  ledger: TransferLedger;
  servers: Pick<ServerStore, 'get'>;
  secrets: SecretStore;
  pollState: Pick<PollStateStore, 'get'>;
  slots: ConnectionSlots;
  sftp: SftpConnector;
  store: ObjectStore;
  notifications: Pick<JobQueue<NotifyJob>, 'sendAll'>;
  transfers: JobQueue<TransferJob>;
  /** Where quarantined jobs are parked for an operator (the transfer queue's dead-letter queue). */
  deadLetters: JobQueue<TransferJob>;
  logger: Logger;
  instanceId: string;
  leaseSeconds: number;
  maxAttempts: number;
  minPartBytes: number;
  maxPartBytes: number;
  /** Parts uploading at once; memory is about (this + 1) × part size. */
  partConcurrency: number;
  /** At most one checkpoint write per this many milliseconds (0: one per part). */
  checkpointIntervalMs: number;
  backoffCapSeconds: number;
  /** Which host keys are trusted (SFTP_HOST_KEY_POLICY). */
  hostKeyPolicy: HostKeyPolicy;
  /** Sessions shared by the transfers of one invocation; without it each transfer connects on its own. */
  sessions?: SftpSessions;
  /** True when the invocation should checkpoint and hand the rest to a fresh one. */
  shouldYield?: () => boolean;
  /** Aborted when the invocation must end: a read still going fails as `timeout`, an attempt like any. */
  deadline?: AbortSignal;
  random?: () => number;
  /** Counts the status changes (flushed by the handler at the end of the invocation). */
  stats?: StatsRecorder;
  /** Rates and latencies for alarms and the dashboard (CloudWatch EMF on AWS). */
  metrics?: OperationalMetrics;
  /** Time for leases, backoff and latencies; the system clock when not given. */
  clock?: Clock;
}

export type TransferOutcome =
  | { status: 'uploaded'; key: string; sha256: string; bytesRead: number }
  | { status: 'already-done' | 'in-progress-elsewhere' | 'gone' | 'missing' }
  | { status: 'vanished' | 'quarantined'; reason: string }
  | { status: 'retry'; code: string; delaySeconds: number }
  | { status: 'continued'; uploadedBytes: number };

/** About how long a file waits for a free connection slot on its server before it is tried again. */
export const SLOT_WAIT_SECONDS = 3;

/**
 * Moves one file version from its SFTP server to the bucket, exactly once in effect.
 *
 * - Claims the version in the ledger with a lease (duplicate deliveries find it taken or done; a
 *   dead worker's lease lapses and the next delivery takes over), renewed while it works.
 * - Streams with a pipelined SFTP reader into S3 multipart parts (size adapted to the file, at most
 *   `partConcurrency` in flight, so memory does not grow with the file), each part with its SHA-256;
 *   the whole-file SHA-256 is computed on the way.
 * - After every part the resume point (upload id, parts, byte offset, digest state) is checkpointed;
 *   a retry reads from that offset, never from zero.
 * - Checks the byte count and the file's size/mtime at the end: a file that changed while being
 *   read is not marked uploaded (its new version is detected and ingested separately).
 * - Only after the ledger records `uploaded` is the notification enqueued.
 */
export async function transferFile(job: TransferJob, deps: TransferDeps): Promise<TransferOutcome> {
  const leaseUntil = () => new Date(nowOf(deps).getTime() + deps.leaseSeconds * 1000);
  // A connection first: while the server is at its cap the file is left as it is, without a claim
  // and its release (a busy server's files are otherwise claimed and released on every delivery).
  const server = await deps.servers.get(job.serverId);
  // One invocation's transfers share sessions (see SftpSessions); a lone call gets its own.
  const sessions = deps.sessions ?? new SftpSessions(deps);
  let borrowed: BorrowedSession | 'no-slot' | undefined;
  let connectError: unknown;
  if (server) {
    try {
      borrowed = await sessions.borrow(server, leaseUntil());
    } catch (error) {
      connectError = error;
    }
  }
  if (borrowed === 'no-slot') {
    if (!deps.sessions) await sessions.closeAll();
    // Jittered, so the files waiting for one server do not all come back at the same moment.
    return { status: 'retry', code: 'no_connection_slot', delaySeconds: Math.round(SLOT_WAIT_SECONDS * (0.5 + (deps.random ?? Math.random)())) };
  }
  const giveBackUnused = async () => {
    if (borrowed) await sessions.giveBack(borrowed, true);
    if (!deps.sessions) await sessions.closeAll();
  };

  const claim = await deps.ledger.claim(job.fileId, deps.instanceId, leaseUntil()).catch(async (error: unknown) => {
    await giveBackUnused();
    throw error;
  });
  if (typeof claim === 'string') {
    await giveBackUnused();
    const unclaimed = { done: 'already-done', busy: 'in-progress-elsewhere', gone: 'gone', missing: 'missing' } as const;
    return { status: unclaimed[claim] };
  }
  const file = claim;
  const claimedAt = nowOf(deps).getTime();
  deps.stats?.transition(file.serverId, file.previousStatus, 'transferring');
  const log = { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath };

  if (file.attempts > deps.maxAttempts) {
    await giveBackUnused();
    return finalize(file, 'quarantined', 'max_attempts', `gave up after ${deps.maxAttempts} attempts`, deps);
  }
  if (!server) return finalize(file, 'quarantined', 'server_deleted', 'the server was deleted before the file was transferred', deps);
  let key: string;
  try {
    key = file.upload?.key ?? objectKey(server.keyPrefix, file.relativePath);
  } catch (error) {
    await giveBackUnused();
    if (error instanceof UnsafeKeyError) return finalize(file, 'quarantined', 'unsafe_name', error.message, deps);
    throw error;
  }
  if (!borrowed) {
    if (!deps.sessions) await sessions.closeAll();
    return await recordFailure(file, connectError, deps);
  }
  const lent = borrowed;
  const { session, slot } = lent;

  let leaseLost = false;
  let sessionHealthy = false;
  const heartbeat = setInterval(() => {
    const until = leaseUntil();
    deps.ledger
      .renewLease(file.fileId, deps.instanceId, until)
      .then((held) => {
        leaseLost ||= !held;
      })
      // A renewal that fails is tried again at the next beat; a lease that really lapsed shows as
      // LeaseLostError on the next ledger write, which stops the transfer.
      .catch(() => {});
    deps.slots
      .renew(server.id, slot, deps.instanceId, until)
      .then((held) => {
        if (held) lent.slotUntil = until;
      })
      // As above: a slot not renewed expires, which only lets another transfer start early.
      .catch(() => {});
  }, (deps.leaseSeconds * 1000) / 3);
  heartbeat.unref();
  try {
    const before = await session.stat(file.remotePath);
    sessionHealthy = true;
    if (!before) return await finalize(file, 'vanished', 'vanished', 'the file disappeared from the server before it was read', deps);
    if (before.size !== file.size || before.mtime !== file.mtime) {
      return await finalize(file, 'vanished', 'changed', 'the file changed after it was listed; its new version is ingested on its own', deps);
    }

    const metadata: ObjectMetadata = {
      fileId: file.fileId,
      sourcePath: file.remotePath,
      sourceMtime: new Date(file.mtime * 1000).toISOString(),
      serverName: server.name,
    };
    // Checked after the last byte is read and before the object is committed: a file that changed
    // meanwhile never becomes an object (rclone's rule too).
    const openSession = session;
    const unchanged = async () => {
      const after = await openSession.stat(file.remotePath);
      return after !== undefined && after.size === file.size && after.mtime === file.mtime;
    };
    const uploaded =
      file.size < deps.minPartBytes
        ? await uploadWhole(file, key, session, metadata, deps, unchanged)
        : await uploadInParts(file, key, session, metadata, deps, () => leaseLost, unchanged);
    if (uploaded.status === 'continued') {
      await deps.transfers.sendAll([job]);
      if (await deps.ledger.release(file.fileId, deps.instanceId)) deps.stats?.transition(file.serverId, 'transferring', 'pending');
      deps.logger.info('transfer_continued', { ...log, uploadedBytes: uploaded.uploadedBytes });
      return uploaded;
    }

    if (uploaded.status === 'changed') {
      return await finalize(file, 'vanished', 'changed', 'the file changed or disappeared while it was read; not marked uploaded', deps);
    }

    const { object } = uploaded;
    const result = {
      key,
      bucket: deps.store.bucket,
      sha256: uploaded.sha256,
      etag: object.etag,
      ...(object.versionId ? { versionId: object.versionId } : {}),
      ...(object.checksum ? { objectChecksum: object.checksum } : {}),
    };
    await deps.ledger.markUploaded(file.fileId, deps.instanceId, result);
    deps.stats?.transition(file.serverId, 'transferring', 'uploaded');
    deps.stats?.ingested(file.serverId, file.size, nowOf(deps));
    deps.metrics?.fileIngested(file.size, (nowOf(deps).getTime() - claimedAt) / 1000);
    deps.logger.info('file_uploaded', { ...log, key, versionId: object.versionId, size: file.size, sha256: uploaded.sha256, bytesRead: uploaded.bytesRead, attempts: file.attempts });
    await deps.notifications.sendAll([{ fileId: file.fileId }]);
    await afterIngest(server, file, session, deps);
    return { status: 'uploaded', key, sha256: uploaded.sha256, bytesRead: uploaded.bytesRead };
  } catch (error) {
    // A session that failed mid-read may be broken or still busy: never lend it again.
    sessionHealthy = false;
    if (error instanceof LeaseLostError) {
      deps.logger.warn('transfer_lease_lost', log);
      return { status: 'in-progress-elsewhere' };
    }
    return await recordFailure(file, error, deps);
  } finally {
    clearInterval(heartbeat);
    await sessions.giveBack(borrowed, sessionHealthy);
    if (!deps.sessions) await sessions.closeAll();
  }
}

/**
 * The server's post-processing, only once the object is verified and recorded. A failure here is
 * logged, not retried: the file is ingested, and an unchanged file is never taken again.
 */
async function afterIngest(server: ServerRecord, file: ClaimedFile, session: SftpSession, deps: TransferDeps): Promise<void> {
  if (server.afterIngest === 'keep') return;
  try {
    if (server.afterIngest === 'delete') {
      await session.remove(file.remotePath);
    } else {
      const target = `${server.afterIngest.slice(5).replace(/\/$/, '')}/${file.relativePath}`;
      await session.move(file.remotePath, target);
    }
    deps.logger.info('after_ingest_done', { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath, action: server.afterIngest });
  } catch (error) {
    deps.logger.warn('after_ingest_failed', {
      fileId: file.fileId,
      serverId: file.serverId,
      serverName: file.serverName,
      remotePath: file.remotePath,
      action: server.afterIngest,
      error: errorMessage(error),
    });
  }
}
