import { backoffSeconds } from '../domain/backoff';
import { ConflictError, errorMessage, NotFoundError, PublishError, SecretInvalidError, ServiceUnavailableError } from '../errors';
import type { Clock, FileCatalog, FileIngestedMessage, FileView, Logger, NotificationLedger, NotifyJob, OperationalMetrics, Publisher, StatsRecorder } from '../ports';

export interface NotifyDeps {
  files: FileCatalog;
  ledger: NotificationLedger;
  publisher: Publisher;
  logger: Logger;
  /** How long one notifier may hold a version before another may announce it. */
  leaseSeconds: number;
  backoffCapSeconds: number;
  /** Rejections (e.g. unroutable) retried this many times before the version is parked. */
  maxRejections: number;
  random?: () => number;
  /** Counts first announcements and their latency (flushed by the handler at the end of the invocation). */
  stats?: StatsRecorder;
  /** Rates and latencies for alarms and the dashboard (CloudWatch EMF on AWS). */
  metrics?: OperationalMetrics;
  /** Time for the notify lease and the detect-to-notify latency; the system clock when not given. */
  clock?: Clock;
}

export type NotifyOutcome =
  | { status: 'notified'; message: FileIngestedMessage }
  | { status: 'already-notified' | 'busy' | 'missing' | 'not-uploaded' }
  | { status: 'retry'; code: string; delaySeconds: number }
  | { status: 'parked'; code: string; message: string };

/** The announcement of an uploaded version, built from its ledger entry. */
export function ingestedMessage(file: FileView): FileIngestedMessage {
  if (!file.bucket || !file.key || !file.sha256 || !file.etag || !file.uploadedAt) throw new Error(`file ${file.fileId} has no stored object`);
  return {
    fileId: file.fileId,
    serverId: file.serverId,
    serverName: file.serverName,
    remotePath: file.remotePath,
    size: file.size,
    mtime: file.mtime,
    sha256: file.sha256,
    bucket: file.bucket,
    key: file.key,
    etag: file.etag,
    ...(file.versionId ? { versionId: file.versionId } : {}),
    ingestedAt: file.uploadedAt,
  };
}

/**
 * Announces one uploaded version on the broker, exactly once in effect:
 * - a short notify lease keeps two deliveries of the same job from publishing at once;
 * - the ledger moves to `notified` only after the broker confirmed the message, so a crash in
 *   between re-publishes it (the outbox sweep finds it) with the same AMQP messageId (the fileId),
 *   which consumers use to drop the duplicate;
 * - a broker that is down or did not confirm -> retried with capped backoff, never dropped;
 * - a message the broker refuses (unroutable, missing exchange, refused credentials) -> recorded on
 *   the version and retried only `maxRejections` times, then parked for an operator (renotify).
 * `again` re-announces a version that was already notified (the renotify endpoint).
 */
export async function notifyFile(job: NotifyJob, deps: NotifyDeps, options: { again?: boolean } = {}): Promise<NotifyOutcome> {
  const claim = await deps.ledger.claim(job.fileId, new Date((deps.clock?.now() ?? new Date()).getTime() + deps.leaseSeconds * 1000), options.again ?? false);
  if (claim === 'notified') return { status: 'already-notified' };
  if (typeof claim === 'string') return { status: claim };
  const file = claim;
  const message = ingestedMessage(file);
  const log = { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath };
  try {
    await deps.publisher.publish(message);
  } catch (error) {
    // What is recorded on the file is shown by the files API. The messages of a PublishError and of
    // a SecretInvalidError name neither the broker's host nor its credentials; any other error's may
    // (a raw socket or SDK error), so the file gets a generic message and only the log the details.
    const known = error instanceof PublishError || error instanceof SecretInvalidError;
    const code = known ? error.code : 'publish_failed';
    const text = errorMessage(error);
    const recorded = known ? text : 'unexpected error while publishing (see the notifier log)';
    // A broker secret that is invalid is retried like an outage: parking would strand every file until renotified.
    const retryable = !(error instanceof PublishError) || error.retryable;
    const attempts = await deps.ledger.recordFailure(file.fileId, { code, message: recorded });
    if (!retryable && attempts >= deps.maxRejections) {
      await deps.ledger.park(file.fileId);
      deps.metrics?.notificationParked(code);
      deps.logger.error('notification_parked', { ...log, code, error: text, attempts });
      return { status: 'parked', code, message: recorded };
    }
    const delaySeconds = backoffSeconds(attempts, deps.backoffCapSeconds, deps.random);
    deps.logger[retryable ? 'warn' : 'error'](retryable ? 'notification_failed' : 'notification_rejected', {
      ...log,
      code,
      error: text,
      attempts,
      retryInSeconds: Math.round(delaySeconds),
    });
    return { status: 'retry', code, delaySeconds };
  }
  const notifiedAt = deps.clock?.now() ?? new Date();
  if (await deps.ledger.markNotified(file.fileId, notifiedAt)) {
    deps.stats?.transition(file.serverId, 'uploaded', 'notified');
    const detectToNotifySeconds = (notifiedAt.getTime() - Date.parse(file.discoveredAt)) / 1000;
    deps.stats?.notified(file.serverId, detectToNotifySeconds);
    // A renotify is not a new ingest: its latency would be the file's age.
    if (!options.again) deps.metrics?.fileNotified(detectToNotifySeconds);
  }
  deps.logger.info('file_notified', { ...log, key: message.key, again: options.again ?? false });
  return { status: 'notified', message };
}

/**
 * `POST /files/{id}/renotify`: publishes the version's announcement again, with the same messageId,
 * and waits for the broker's confirm. Only a version with a stored object can be announced.
 */
export async function renotifyFile(fileId: string, deps: NotifyDeps): Promise<FileView> {
  const file = await deps.files.get(fileId);
  if (!file) throw new NotFoundError(`no file with id ${fileId}`);
  if (file.status !== 'uploaded' && file.status !== 'notified') {
    throw new ConflictError(`file ${fileId} is ${file.status}: only an uploaded file can be announced`, 'status');
  }
  const outcome = await notifyFile({ fileId }, deps, { again: true });
  if (outcome.status === 'busy') throw new ConflictError(`file ${fileId} is being announced right now; try again shortly`);
  if (outcome.status === 'retry' || outcome.status === 'parked') {
    throw new ServiceUnavailableError(`the broker did not take the message (${outcome.code}); try again later`);
  }
  return (await deps.files.get(fileId)) ?? file;
}
