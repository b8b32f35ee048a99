import type { ServerRecord } from '../domain/server';
import { mapWeighted } from '../domain/weighted-map';
import { errorSummary } from '../errors';
import type { JobQueue, NotifyJob, ServerStore, TransferJob } from '../ports';
import { SftpSessions } from './sftp-sessions';
import { transferFile, type TransferDeps, type TransferOutcome } from './transfer';

/** Leave this much of the invocation for the final checkpoint and re-enqueue. */
export const YIELD_MARGIN_MS = 90_000;
/**
 * A read still going this close to the end is stopped and recorded as a failed attempt (`timeout`),
 * rather than killed with the invocation: a slow server's files then back off and, after
 * TRANSFER_MAX_ATTEMPTS, are quarantined; the other files of the batch are not lost with it.
 */
export const ABORT_MARGIN_MS = 30_000;

/** One job of a batch, with the id its result is reported by (the SQS message id). */
export interface BatchEntry {
  id: string;
  job: TransferJob;
}

/**
 * What became of each entry: a transfer outcome, `deferred` (re-enqueued as a fresh message: its
 * server at its connection cap, or no time left), `handed-on` (a further large file, sent to another
 * invocation at once) or `error` (unexpected, e.g. the ledger unreachable).
 */
export type BatchEntryResult = TransferOutcome['status'] | 'deferred' | 'handed-on' | 'error';

export interface TransferBatchReport {
  results: Map<string, BatchEntryResult>;
  /**
   * Entries the queue must deliver again: a retryable failure after `retryInSeconds`, an unexpected
   * error or a re-enqueue that did not happen at the visibility timeout.
   */
  redeliver: { id: string; retryLater?: { retryInSeconds: number; code: string } }[];
}

export interface TransferBatchOptions {
  /** The environment's warm sessions (kept after the batch); without, the batch's own. */
  sessions?: SftpSessions;
  /** Milliseconds left in the invocation; undefined: no limit (a worker outside Lambda). */
  remainingMs?: () => number;
  /** Weight of small files run at once; a multipart file weighs all of it and runs alone. */
  smallFilesAtOnce: number;
}

/**
 * Transfers the files of one invocation. The small files go first, a few at a time over their
 * server's shared connection, then at most one large file (a multipart one alone); further large
 * files are handed on at once (batchOrder), so no file waits behind a large one from a slow server.
 * Files of a server at its connection cap wait without trying (re-enqueued after the wait its
 * server asked for, as fresh messages: a busy server never pushes files into the dead-letter
 * queue); so do files the invocation has no time left for (YIELD_MARGIN_MS). A read still going
 * ABORT_MARGIN_MS before the end is stopped as a failed attempt.
 */
export async function transferBatch(entries: BatchEntry[], deps: TransferDeps, options: TransferBatchOptions): Promise<TransferBatchReport> {
  const batch = new TransferBatch(deps, options.sessions);
  const results = new Map<string, BatchEntryResult>();
  const redeliver: TransferBatchReport['redeliver'] = [];
  const timeIsShort = () => options.remainingMs !== undefined && options.remainingMs() < YIELD_MARGIN_MS;
  const deadline = new AbortController();
  const stopTimer = options.remainingMs && setTimeout(() => deadline.abort(), Math.max(0, options.remainingMs() - ABORT_MARGIN_MS));
  /** Servers at their connection cap, with the wait the use case asked for. */
  const saturated = new Map<string, number>();
  const isLarge = (entry: BatchEntry) => entry.job.size >= deps.minPartBytes;

  const order = batchOrder(entries, isLarge);
  let run = order.run;
  if (order.handOn.length > 0) {
    // At once, not with the batch's end: they are to start elsewhere while this one runs. If the
    // send fails they simply stay in this batch, after the others.
    const handedOn = await deps.transfers.sendEntries(order.handOn.map(({ job }) => ({ message: job, delaySeconds: 0 }))).then(() => true, () => false);
    if (handedOn) for (const { id } of order.handOn) results.set(id, 'handed-on');
    else run = [...run, ...order.handOn];
  }

  try {
    await mapWeighted(run, { limit: options.smallFilesAtOnce, weight: (entry) => (isLarge(entry) ? options.smallFilesAtOnce : 1) }, async ({ id, job }) => {
      const wait = timeIsShort() ? 0 : saturated.get(job.serverId);
      if (wait !== undefined) {
        batch.defer(job, wait, id);
        results.set(id, 'deferred');
        return;
      }
      try {
        const outcome = await transferFile(job, batch.deps({ shouldYield: timeIsShort, deadline: deadline.signal }));
        if (outcome.status === 'retry' && outcome.code === 'no_connection_slot') {
          saturated.set(job.serverId, outcome.delaySeconds);
          batch.defer(job, outcome.delaySeconds, id);
          results.set(id, 'deferred');
          return;
        }
        results.set(id, outcome.status);
        if (outcome.status === 'retry') redeliver.push({ id, retryLater: { retryInSeconds: outcome.delaySeconds, code: outcome.code } });
      } catch (error) {
        deps.logger.error('transfer_error', { fileId: job.fileId, serverId: job.serverId, messageId: id, error: errorSummary(error) });
        results.set(id, 'error');
        redeliver.push({ id });
      }
    });
  } finally {
    clearTimeout(stopTimer);
    for (const id of await batch.finish()) redeliver.push({ id });
  }
  return { results, redeliver };
}

/** Notifications sent ten to a request (one SendMessageBatch) instead of one request per file. */
const NOTIFY_BATCH = 10;

/**
 * The order a batch's files are transferred in, so that no file waits behind a large one (whose
 * transfer, from a slow or trickling server, may take most of the invocation): the small files
 * first, then one large file; further large files are handed on to other invocations at once
 * (`handOn`), where they run side by side instead of one after another here.
 */
export function batchOrder<T>(items: readonly T[], isLarge: (item: T) => boolean): { run: T[]; handOn: T[] } {
  const large = items.filter(isLarge);
  return { run: [...items.filter((item) => !isLarge(item)), ...large.slice(0, 1)], handOn: large.slice(1) };
}

/**
 * What the transfers of one batch (one invocation) share, so that a small file costs the floor of
 * requests (claim, PUT, record) and not a handshake and a server read each:
 * - SFTP sessions per server (see SftpSessions);
 * - the server records, read once per batch (a change made meanwhile applies from the next batch);
 * - the notifications, sent ten to a request. A file is `uploaded` in the ledger before its
 *   notification is buffered, so one lost with a crashed invocation is re-enqueued by the outbox
 *   sweep; `finish` sends what is left.
 */
export class TransferBatch {
  private readonly sessions: SftpSessions;
  private readonly ownSessions: boolean;
  private readonly servers = new Map<string, Promise<ServerRecord | undefined>>();
  private readonly pending: NotifyJob[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private readonly deferred: { job: TransferJob; delaySeconds: number; messageId: string }[] = [];

  /** `sessions`: the environment's warm ones (kept after the batch); without, the batch's own (closed by `finish`). */
  constructor(
    private readonly base: TransferDeps,
    sessions?: SftpSessions,
  ) {
    this.ownSessions = !sessions;
    this.sessions = sessions ?? new SftpSessions(base);
  }

  /** The dependencies a transfer of this batch runs with. */
  deps(overrides: Partial<TransferDeps> = {}): TransferDeps {
    const servers: Pick<ServerStore, 'get'> = {
      get: (id) => {
        let server = this.servers.get(id);
        if (!server) {
          server = this.base.servers.get(id);
          this.servers.set(id, server);
          server.catch(() => this.servers.delete(id));
        }
        return server;
      },
    };
    const notifications: Pick<JobQueue<NotifyJob>, 'sendAll'> = {
      sendAll: async (jobs) => {
        this.pending.push(...jobs);
        if (this.pending.length >= NOTIFY_BATCH) await this.flush();
      },
    };
    return { ...this.base, servers, notifications, sessions: this.sessions, ...overrides };
  }

  /**
   * Puts a job back on the queue as a fresh message (its receive count back at zero) after
   * `delaySeconds`: a server at its connection cap, or no time left in the invocation. Sent together
   * by `finish`, ten to a request, instead of one request per job.
   */
  defer(job: TransferJob, delaySeconds: number, messageId: string): void {
    this.deferred.push({ job, delaySeconds, messageId });
  }

  /**
   * Re-enqueues the deferred jobs, sends the buffered notifications and ends every session. Returns
   * the messages whose job could not be re-enqueued: they must be reported failed so SQS delivers
   * them again. A failed notification send is left to the outbox sweep.
   */
  async finish(): Promise<string[]> {
    const deferred = this.deferred.splice(0);
    const [requeued] = await Promise.allSettled([
      deferred.length ? this.base.transfers.sendEntries(deferred.map(({ job, delaySeconds }) => ({ message: job, delaySeconds }))) : Promise.resolve(),
      this.flush(),
      this.ownSessions ? this.sessions.closeAll() : this.sessions.park(),
    ]);
    if (requeued.status === 'fulfilled') return [];
    this.base.logger.warn('transfer_requeue_failed', { files: deferred.length, error: String(requeued.reason) });
    return deferred.map(({ messageId }) => messageId);
  }

  private flush(): Promise<void> {
    const jobs = this.pending.splice(0);
    if (jobs.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.base.notifications.sendAll(jobs).catch((error: unknown) => {
        this.base.logger.warn('notify_enqueue_failed', { files: jobs.length, fileIds: jobs.map((job) => job.fileId), error: String(error) });
      }),
    );
    return this.flushing;
  }
}
