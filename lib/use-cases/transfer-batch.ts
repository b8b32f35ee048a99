import type { ServerRecord } from '../domain/server';
import type { JobQueue, NotifyJob, ServerStore, TransferJob } from '../ports';
import { SftpSessions } from './sftp-sessions';
import type { TransferDeps } from './transfer';

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
