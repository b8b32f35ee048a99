import { backoffSeconds } from '../domain/backoff';
import { transferJobOf } from '../domain/file-version';
import { errorMessage, ExternalError } from '../errors';
import type { ClaimedFile, Clock } from '../ports';
import type { TransferDeps, TransferOutcome } from './transfer';

/**
 * How a transfer attempt ends when it does not end uploaded: the version `vanished` or
 * `quarantined` (finalize: its upload aborted, its job parked in the dead-letter queue), or failed
 * and retried after a backoff (recordFailure), each counted, measured and logged once.
 */

/** The deps' clock's time, or the system's. */
export const nowOf = (deps: { clock?: Clock }): Date => deps.clock?.now() ?? new Date();

export async function finalize(
  file: ClaimedFile,
  status: 'vanished' | 'quarantined',
  code: string,
  message: string,
  deps: TransferDeps,
): Promise<TransferOutcome> {
  // Best effort: an upload left behind is the orphan sweep's (and the bucket lifecycle rule's) to remove.
  if (file.upload) await deps.store.abortMultipartUpload(file.upload.key, file.upload.uploadId).catch(() => {});
  if (await deps.ledger.markFinal(file.fileId, deps.instanceId, status, { code, message })) {
    deps.stats?.transition(file.serverId, 'transferring', status);
    if (status === 'quarantined') deps.stats?.failure(file.serverId, code, nowOf(deps));
    deps.metrics?.fileFailed(code, status);
  }
  if (status === 'quarantined') await parkInDeadLetterQueue(file, deps);
  deps.logger[status === 'vanished' ? 'warn' : 'error'](status === 'vanished' ? 'file_vanished' : 'transfer_quarantined', {
    fileId: file.fileId,
    serverId: file.serverId,
    serverName: file.serverName,
    remotePath: file.remotePath,
    code,
  });
  return { status, reason: code };
}

/** The dead-letter queue holds quarantined jobs for operators; the ledger stays the record of truth. */
async function parkInDeadLetterQueue(file: ClaimedFile, deps: TransferDeps): Promise<void> {
  await deps.deadLetters.sendAll([transferJobOf(file)]).catch((error: unknown) => deps.logger.warn('dead_letter_failed', { fileId: file.fileId, serverId: file.serverId, error: String(error) }));
}

export async function recordFailure(file: ClaimedFile, error: unknown, deps: TransferDeps): Promise<TransferOutcome> {
  const classified = error instanceof ExternalError;
  const code = classified ? error.code : `internal:${(error as { name?: string }).name ?? 'Error'}`;
  const fatal = classified && !error.retryable;
  const message = errorMessage(error);
  const log = { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath, code, error: message };
  if (code === 'upload_lost') {
    // The multipart upload was aborted (e.g. by the orphan sweep): start over with a new one.
    // Best effort: a stale upload record is found lost again by the next attempt's cross-check.
    await deps.ledger.forgetUpload(file.fileId, deps.instanceId).catch(() => {});
  }
  if (fatal || file.attempts >= deps.maxAttempts) {
    deps.logger.error('transfer_failed_fatally', { ...log, attempts: file.attempts });
    return finalize(file, 'quarantined', code, message, deps);
  }
  const delaySeconds = backoffSeconds(file.attempts, deps.backoffCapSeconds, deps.random);
  if (await deps.ledger.markFailed(file.fileId, deps.instanceId, { code, message }, new Date(nowOf(deps).getTime() + delaySeconds * 1000))) {
    deps.stats?.transition(file.serverId, 'transferring', 'failed');
    deps.stats?.failure(file.serverId, code, nowOf(deps));
    deps.metrics?.fileFailed(code, 'retrying');
  }
  deps.logger.warn('transfer_failed', { ...log, attempts: file.attempts, retryInSeconds: Math.round(delaySeconds) });
  return { status: 'retry', code, delaySeconds };
}
