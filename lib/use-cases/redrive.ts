import { ConflictError, NotFoundError, NotRetryableError } from '../errors';
import { NotifyJob, TransferJob, transferJobOfView } from '../domain/file-version';
import type { Clock, DeadLetter, DeadLetterQueue, FileCatalog, FileStatus, FileView, JobQueue, Logger, RedriveLedger, ServerStore, StatsRecorder } from '../ports';

export interface RedriveDeps {
  files: Pick<FileCatalog, 'get'>;
  ledger: RedriveLedger;
  servers: Pick<ServerStore, 'get'>;
  transfers: Pick<JobQueue<TransferJob>, 'sendAll'>;
  notifications: Pick<JobQueue<NotifyJob>, 'sendAll'>;
  clock: Clock;
  logger: Logger;
  /**
   * A server-wide call stops taking more versions after this long and says it is not complete (the
   * HTTP API answers within 30 s); calling again takes the rest.
   */
  budgetMs: number;
  /** Conditional writes in flight at once during a server-wide retry. */
  concurrency?: number;
  /** Counts each version sent back to pending (flushed by the caller when it is done). */
  stats?: StatsRecorder;
}

/** The statuses a version stops in short of ingestion, which an operator may send round again. */
export const RETRYABLE_STATUSES = ['failed', 'quarantined', 'vanished'] as const satisfies readonly FileStatus[];
export type RetryableStatus = (typeof RETRYABLE_STATUSES)[number];

/** What a caller may know about who asked (the audit log line carries it). */
export interface RedriveContext {
  requestId?: string;
}

export interface ServerRedriveResult {
  /** False when the time budget ran out first: call again for the rest (already retried versions are not taken twice). */
  complete: boolean;
}

const isRetryable = (status: string): status is RetryableStatus => (RETRYABLE_STATUSES as readonly string[]).includes(status);

/**
 * Why a retry cannot help a version in a retryable status, or undefined when it may.
 * - `unsafe_name`: quarantined by the poll for its name, which a retry does not change (and whose
 *   recorded path is the escaped name, not one the server knows).
 * - `server_deleted`: its server is gone, so it would only be quarantined again and parked in the
 *   dead-letter queue again, where a redrive would find it again: a loop.
 */
export function retryRefusal(file: Pick<FileView, 'status' | 'lastError'>): string | undefined {
  if (file.status !== 'quarantined') return undefined;
  if (file.lastError?.code === 'unsafe_name') return 'its name is unsafe (unsafe_name): a retry cannot change the name';
  if (file.lastError?.code === 'server_deleted') return 'its server was deleted (server_deleted)';
  return undefined;
}

/**
 * Puts one version back to `pending` through the ledger's conditional write. The version may have
 * been read from an index or an eventually consistent read: on a lost condition it is read once
 * more and, if it is still retryable, written once more; 'stale' when it really moved on.
 */
async function requeue(file: FileView, deps: RedriveDeps): Promise<{ before: FileView; after: FileView } | 'stale'> {
  const counted = (before: FileView, after: FileView) => {
    deps.stats?.transition(before.serverId, before.status as FileStatus, 'pending');
    return { before, after };
  };
  const first = await deps.ledger.requeue(file, deps.clock.now());
  if (first !== 'stale') return counted(file, first);
  const current = await deps.files.get(file.fileId);
  if (!current || !isRetryable(current.status) || retryRefusal(current)) return 'stale';
  const second = await deps.ledger.requeue(current, deps.clock.now());
  return second === 'stale' ? 'stale' : counted(current, second);
}

function logRetried(before: FileView, context: RedriveContext, deps: RedriveDeps, scope: 'file' | 'server' | 'dead-letter') {
  deps.logger.info('file_retried', {
    fileId: before.fileId,
    serverId: before.serverId,
    serverName: before.serverName,
    remotePath: before.remotePath,
    previousStatus: before.status,
    previousCode: before.lastError?.code,
    previousAttempts: before.attempts,
    scope,
    requestId: context.requestId,
  });
}

/**
 * `POST /files/{id}/retry`: a `failed`, `quarantined` or `vanished` version goes back to `pending`
 * with its attempts reset and its transfer job is enqueued; the transfer then ingests and announces
 * it as any other (once the cause is gone). One conditional write decides, so of two concurrent
 * retries one enqueues and the other is a 409. A `failed` version may still have its backoff job in
 * the queue: that one and the new one are two jobs, and the claim lets only one of them transfer.
 * If the enqueue fails the version stays `pending` and the sweep re-enqueues it (the outbox).
 */
export async function retryFile(fileId: string, deps: RedriveDeps, context: RedriveContext = {}): Promise<FileView> {
  const file = await deps.files.get(fileId);
  if (!file) throw new NotFoundError(`no file with id ${fileId}`);
  if (!isRetryable(file.status)) {
    throw new ConflictError(`file ${fileId} is ${file.status}: only a failed, quarantined or vanished version can be retried`, 'status');
  }
  const refusal = retryRefusal(file) ?? ((await deps.servers.get(file.serverId)) ? undefined : 'its server was deleted');
  if (refusal) throw new NotRetryableError(`file ${fileId} cannot be retried: ${refusal}`);
  const requeued = await requeue(file, deps);
  if (requeued === 'stale') {
    const now = await deps.files.get(fileId);
    throw new ConflictError(`file ${fileId} changed meanwhile (it is ${now?.status ?? 'gone'}); read it again`, 'status');
  }
  await deps.transfers.sendAll([transferJobOfView(requeued.after)]);
  logRetried(requeued.before, context, deps, 'file');
  return requeued.after;
}

/**
 * `POST /servers/{id}/retry`: retries (as retryFile) every version of the server in `statuses`
 * (default: all three), page by page through its history, except those a retry cannot help
 * (retryRefusal). Versions another retry took first are skipped, so concurrent calls enqueue one job
 * per version between them.
 */
export async function retryServer(
  serverId: string,
  deps: RedriveDeps,
  options: { statuses?: RetryableStatus[] } & RedriveContext = {},
): Promise<{ retried: number } & ServerRedriveResult> {
  const server = await deps.servers.get(serverId);
  if (!server) throw new NotFoundError(`no server with id ${serverId}`);
  const statuses = options.statuses ?? [...RETRYABLE_STATUSES];
  const outOfTime = deadline(deps);
  const concurrency = deps.concurrency ?? 8;
  let retried = 0;
  let refused = 0;
  let complete = true;
  pages: for await (const page of deps.ledger.versionsOf(serverId, { statuses })) {
    const candidates = page.filter((file) => isRetryable(file.status) && retryRefusal(file) === undefined);
    refused += page.length - candidates.length;
    for (let start = 0; start < candidates.length; start += concurrency) {
      if (outOfTime()) {
        complete = false;
        break pages;
      }
      const chunk = candidates.slice(start, start + concurrency);
      const won = (await Promise.all(chunk.map((file) => requeue(file, deps)))).filter((result) => result !== 'stale');
      await deps.transfers.sendAll(won.map(({ after }) => transferJobOfView(after)));
      for (const { before } of won) logRetried(before, options, deps, 'server');
      retried += won.length;
    }
  }
  deps.logger.info('server_retried', { serverId, serverName: server.name, statuses, retried, refused, complete, requestId: options.requestId });
  return { retried, complete };
}

/**
 * `POST /servers/{id}/renotify?since=`: enqueues, for every version of the server first announced
 * (notifiedAt) at or after `since`, a notify job marked `again`, which the notifier publishes with
 * the version's original messageId (for a consumer that lost its queue). Versions uploaded but not yet
 * announced are left to their own job. Calling twice publishes twice: consumers drop the repeats by
 * messageId.
 */
export async function renotifyServer(
  serverId: string,
  since: Date,
  deps: RedriveDeps,
  context: RedriveContext = {},
): Promise<{ queued: number } & ServerRedriveResult> {
  const server = await deps.servers.get(serverId);
  if (!server) throw new NotFoundError(`no server with id ${serverId}`);
  const outOfTime = deadline(deps);
  let queued = 0;
  let complete = true;
  for await (const page of deps.ledger.versionsOf(serverId, { notifiedSince: since })) {
    if (outOfTime()) {
      complete = false;
      break;
    }
    await deps.notifications.sendAll(page.map((file): NotifyJob => ({ fileId: file.fileId, again: true })));
    queued += page.length;
  }
  deps.logger.info('server_renotified', { serverId, serverName: server.name, since: since.toISOString(), queued, complete, requestId: context.requestId });
  return { queued, complete };
}

function deadline(deps: RedriveDeps): () => boolean {
  const until = deps.clock.now().getTime() + deps.budgetMs;
  return () => deps.clock.now().getTime() > until;
}

export type DeadLetterKind = 'transfer' | 'notify';

/** What a redrive did (or, dry, would do) with each dead-lettered message, counted. */
export interface DeadLetterReport {
  /** Sent back to the main queue as they were. */
  moved: number;
  /** Transfer jobs of failed, quarantined or vanished versions: the version reset as POST /files/{id}/retry does, and its job enqueued. */
  retried: number;
  /** Deleted: nothing could come of them (already done, unknown version, not retryable), by reason. */
  dropped: Record<string, number>;
  /** Left in the dead-letter queue (another server's, unreadable), by reason. */
  kept: Record<string, number>;
}

type Decision = { action: 'move' } | { action: 'retry'; file: FileView } | { action: 'drop' | 'keep'; reason: string };

/**
 * Moves a dead-letter queue's messages back once their cause is fixed (`npm run redrive`), each as
 * its version now needs:
 * - transfer: a version still `pending`/`transferring` gets its job back; a `failed`, `quarantined`
 *   or `vanished` one is retried as POST /files/{id}/retry does (the claim refuses a quarantined
 *   version's job otherwise); one a retry cannot help (unsafe_name, its server deleted) and one
 *   already ingested or unknown is dropped: the ledger keeps its record.
 * - notify: an `uploaded` version (or any job marked `again`) gets its job back, whose notifier
 *   publishes it with its original messageId; an announced or unknown version's job is dropped.
 * `serverId` limits it to one server's messages; `dryRun` only counts. A message is sent before it
 * is deleted: a crash between leaves a duplicate job, which the claims make harmless.
 */
export async function redriveDeadLetters(
  kind: DeadLetterKind,
  deps: RedriveDeps & { deadLetters: DeadLetterQueue },
  options: { dryRun?: boolean; serverId?: string } = {},
): Promise<DeadLetterReport> {
  const report: DeadLetterReport = { moved: 0, retried: 0, dropped: {}, kept: {} };
  const count = (into: Record<string, number>, reason: string) => (into[reason] = (into[reason] ?? 0) + 1);
  // Left in the queue, by message id: the latest receipt (an older one cannot release it).
  const left = new Map<string, DeadLetter>();
  try {
    for (let batch = await deps.deadLetters.receive(); batch.length > 0; batch = await deps.deadLetters.receive()) {
      for (const message of batch) {
        // Seen already: the run outlasted the message's hiding, and it was left the first time.
        if (left.has(message.messageId)) {
          left.set(message.messageId, message);
          continue;
        }
        const decision = await decide(kind, message.body, deps, options.serverId);
        if (decision.action === 'keep') {
          count(report.kept, decision.reason);
          left.set(message.messageId, message);
          continue;
        }
        // What happened, or (dry) would: moved, retried, or the reason it was dropped.
        let outcome = decision.action === 'drop' ? decision.reason : decision.action === 'move' ? 'moved' : 'retried';
        if (options.dryRun) {
          left.set(message.messageId, message);
        } else {
          if (decision.action === 'move') {
            await (kind === 'transfer'
              ? deps.transfers.sendAll([TransferJob.parse(JSON.parse(message.body))])
              : deps.notifications.sendAll([NotifyJob.parse(JSON.parse(message.body))]));
          } else if (decision.action === 'retry') {
            const requeued = await requeue(decision.file, deps);
            if (requeued === 'stale') {
              outcome = 'changed meanwhile';
            } else {
              await deps.transfers.sendAll([transferJobOfView(requeued.after)]);
              logRetried(requeued.before, {}, deps, 'dead-letter');
            }
          }
          await deps.deadLetters.delete([message]);
        }
        if (outcome === 'moved') report.moved++;
        else if (outcome === 'retried') report.retried++;
        else count(report.dropped, outcome);
      }
    }
  } finally {
    await deps.deadLetters.release([...left.values()]);
  }
  deps.logger.info('dead_letters_redriven', { queue: kind, dryRun: options.dryRun ?? false, serverId: options.serverId, ...report });
  return report;
}

async function decide(kind: DeadLetterKind, body: string, deps: RedriveDeps, serverId: string | undefined): Promise<Decision> {
  const parsed = (kind === 'transfer' ? TransferJob : NotifyJob).safeParse(safeJson(body));
  if (!parsed.success) return { action: 'keep', reason: 'not a job' };
  const file = await deps.files.get(parsed.data.fileId);
  if (serverId !== undefined && file?.serverId !== serverId) return { action: 'keep', reason: 'another server' };
  if (!file) return { action: 'drop', reason: 'unknown version' };
  if (kind === 'notify') {
    if (file.status === 'uploaded' || (file.status === 'notified' && 'again' in parsed.data && parsed.data.again)) return { action: 'move' };
    return { action: 'drop', reason: file.status === 'notified' ? 'already announced' : `no object (${file.status})` };
  }
  if (file.status === 'uploaded' || file.status === 'notified') return { action: 'drop', reason: 'already ingested' };
  if (!isRetryable(file.status)) return { action: 'move' };
  const refusal = retryRefusal(file) ?? ((await deps.servers.get(file.serverId)) ? undefined : 'its server was deleted');
  return refusal ? { action: 'drop', reason: `not retryable: ${refusal}` } : { action: 'retry', file };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
