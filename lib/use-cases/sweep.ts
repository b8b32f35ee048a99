import { transferJobOf } from '../domain/file-version';
import type { FileStatus, JobQueue, Logger, NotifyJob, ObjectStore, ServerStore, StaleFiles, StatsReconciler, TransferJob } from '../ports';
import { errorMessage } from '../errors';

export interface SweepDeps {
  stale: StaleFiles;
  notifications: JobQueue<NotifyJob>;
  transfers: JobQueue<TransferJob>;
  store: Pick<ObjectStore, 'listMultipartUploads' | 'abortMultipartUpload'>;
  logger: Logger;
  /** An `uploaded` version not announced after this long gets its notification re-enqueued. */
  notifyAfterSeconds: number;
  /** A `pending`, `transferring` or `failed` version untouched this long has lost its job: re-enqueue it. */
  transferStuckAfterSeconds: number;
  /** A multipart upload older than this that no live transfer owns is aborted. */
  orphanUploadAfterSeconds: number;
  /** Versions re-enqueued per status per sweep, oldest first (the next sweep takes the next ones); also multipart uploads listed per sweep. */
  limit: number;
  /** Repairs the per-status counters of /stats and /metrics at most once per `everySeconds`, fleet-wide. */
  reconcile?: { stats: StatsReconciler; servers: Pick<ServerStore, 'list'>; everySeconds: number; budgetMs: number };
}

export interface SweepReport {
  renotified: number;
  retransferred: number;
  abortedUploads: number | 'unsupported';
  /** Servers whose counters were checked, and those corrected; absent when it was not this sweep's turn. */
  reconciled?: { checked: number; corrected: number; skipped: number };
}

/**
 * The periodic repair pass (the outbox and the janitor):
 * - `uploaded` versions never announced (a crash between upload and enqueue, or between publish and
 *   ledger update, or a notify job that ran out of receives) get their notification re-enqueued;
 *   the notifier's claim makes duplicates harmless; parked ones wait for an operator;
 * - `pending`/`transferring`/`failed` versions whose job was lost (a crash between the dedup lock and
 *   the enqueue, a job dead-lettered) get it re-enqueued (a live worker's lease makes the extra job a
 *   no-op);
 * - multipart uploads that no live transfer owns (a crash between CreateMultipartUpload and the
 *   ledger write, an upload given up on) are aborted once old enough, so their parts stop costing.
 */
export async function sweep(deps: SweepDeps, now = new Date()): Promise<SweepReport> {
  const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

  const unannounced = (await deps.stale.list('uploaded', ago(deps.notifyAfterSeconds), deps.limit)).filter((file) => !file.notifyParked);
  await deps.notifications.sendAll(unannounced.map((file) => ({ fileId: file.fileId })));

  const inTransfer = [
    ...(await deps.stale.list('pending', ago(deps.transferStuckAfterSeconds), deps.limit)),
    ...(await deps.stale.list('transferring', now, deps.limit)),
    ...(await deps.stale.list('failed', now, deps.limit)),
  ];
  const stuck = inTransfer.filter((file) => file.statusSince < ago(deps.transferStuckAfterSeconds).toISOString());
  await deps.transfers.sendAll(stuck.map(transferJobOf));

  const abortedUploads = await abortOrphanUploads(deps, ago(deps.orphanUploadAfterSeconds));
  const report: SweepReport = { renotified: unannounced.length, retransferred: stuck.length, abortedUploads };
  if (unannounced.length || stuck.length || (typeof abortedUploads === 'number' && abortedUploads > 0)) deps.logger.info('sweep_repaired', { ...report });
  if (deps.reconcile) {
    const reconciled = await reconcileCounts(deps.reconcile, now);
    if (reconciled) {
      report.reconciled = reconciled;
      deps.logger.info('stats_reconciled', { ...reconciled });
    }
  }
  return report;
}

/**
 * Counters drift when a function dies between a ledger write and its flush. Each registered server's
 * history is counted by status and the difference added to its counters (and the deployment's),
 * only when its stored counters did not move while it was counted: a flush during the count would
 * make the difference wrong, so that server waits for the next turn. A deleted server's versions do
 * not change any more, so its counters cannot drift after the deletion and are left alone.
 */
async function reconcileCounts(deps: NonNullable<SweepDeps['reconcile']>, now: Date): Promise<SweepReport['reconciled']> {
  if (!(await deps.stats.claimReconcile(now, deps.everySeconds))) return undefined;
  const deadline = new Date(Date.now() + deps.budgetMs);
  const serverIds: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.servers.list(100, nextToken);
    serverIds.push(...page.items.map((server) => server.id));
    nextToken = page.nextToken;
  } while (nextToken);
  const result = { checked: 0, corrected: 0, skipped: 0 };
  for (const serverId of serverIds) {
    const before = (await deps.stats.storedCounts([serverId])).get(serverId)!;
    const counted = await deps.stats.countVersions(serverId, deadline);
    if (!counted) break;
    const afterCount = (await deps.stats.storedCounts([serverId])).get(serverId)!;
    const statuses = Object.keys(counted) as FileStatus[];
    if (statuses.some((status) => before[status] !== afterCount[status])) {
      result.skipped++;
      continue;
    }
    result.checked++;
    const delta = Object.fromEntries(statuses.map((status) => [status, counted[status] - afterCount[status]]).filter(([, value]) => value !== 0));
    if (Object.keys(delta).length > 0) {
      await deps.stats.correct(serverId, delta);
      result.corrected++;
    }
  }
  return result;
}

async function abortOrphanUploads(deps: SweepDeps, olderThan: Date): Promise<number | 'unsupported'> {
  const uploads = await deps.store.listMultipartUploads(deps.limit);
  if (uploads === 'unsupported') return 'unsupported';
  const old = uploads.filter((upload) => upload.initiated < olderThan);
  if (old.length === 0) return 0;
  // Every version in transfer, not only the stale ones listed above: a live upload must never look orphaned.
  const live = await deps.stale.uploadsInUse();
  let aborted = 0;
  for (const upload of old) {
    if (live.has(upload.uploadId)) continue;
    try {
      await deps.store.abortMultipartUpload(upload.key, upload.uploadId);
      aborted++;
      deps.logger.info('orphan_upload_aborted', { key: upload.key, uploadId: upload.uploadId, initiated: upload.initiated.toISOString() });
    } catch (error) {
      deps.logger.warn('orphan_upload_abort_failed', { key: upload.key, uploadId: upload.uploadId, error: errorMessage(error) });
    }
  }
  return aborted;
}
