import { fileVersionId, relativeTo, type ListedFile } from '../domain/file-identity';
import { transferJobOf } from '../domain/file-version';
import type { HostKeyPolicy } from '../domain/host-key';
import type { ListingBounds } from '../domain/listing-bounds';
import { listingFilter } from '../domain/listing-filter';
import { escapeName, unsafeNameReason } from '../domain/remote-name';
import type { ServerRecord } from '../domain/server';
import { SnapshotDiff } from '../domain/snapshot';
import { SftpError } from '../errors';
import { openSession } from './open-session';
import { recordPollFailure } from './poll-failures';
import type {
  Clock,
  ConnectionSlots,
  DetectedFile,
  FileLedger,
  JobQueue,
  Logger,
  OperationalMetrics,
  PollState,
  PollStateStore,
  PollTick,
  SecretStore,
  ServerStore,
  SftpConnector,
  SftpSession,
  StatsRecorder,
  TransferJob,
} from '../ports';

export interface PollDeps {
  servers: ServerStore;
  secrets: SecretStore;
  pollState: PollStateStore;
  slots: ConnectionSlots;
  ledger: FileLedger;
  transfers: JobQueue<TransferJob>;
  ticks: JobQueue<PollTick>;
  sftp: SftpConnector;
  clock: Clock;
  logger: Logger;
  /** Identifies this process as a lease holder. */
  instanceId: string;
  /** How long a poll may hold its lease; longer polls lose it to the next poller. */
  leaseSeconds: number;
  backoffCapSeconds: number;
  /** Bounds of one listing (POLL_MAX_ENTRIES, POLL_MAX_DEPTH); past one the poll fails as listing_too_large. */
  listingBounds: ListingBounds;
  hostKeyPolicy: HostKeyPolicy;
  random?: () => number;
  /** Counts the versions created (flushed by the handler at the end of the invocation). */
  stats?: StatsRecorder;
  /** Rates and latencies for alarms and the dashboard (CloudWatch EMF on AWS). */
  metrics?: OperationalMetrics;
}

export type PollResult =
  | { status: 'polled'; listed: number; enqueued: number; waiting: number }
  | { status: 'skipped'; reason: 'missing' | 'inactive' | 'busy' | 'not-due' | 'no-connection-slot' }
  | { status: 'failed'; code: string; retryInSeconds: number };

/** A tick may run this much before the server's nextPollAt (ticks are scheduled to the second). */
const EARLY_TOLERANCE_MS = 1000;
/** Ledger writes in flight at once while ready versions are taken. */
const LEDGER_CONCURRENCY = 16;

/**
 * Polls one server once: lists its directory and hands every new, stable file version to the
 * transfer queue exactly once.
 *
 * - At most one poll per server runs at a time, fleet-wide (a lease that lapses if a poller dies),
 *   and it holds one of the server's `maxConnections` connection slots.
 * - Only versions missing from the previous listing's snapshot touch the ledger; an unchanged
 *   directory costs a handful of requests whatever its size.
 * - A version is taken by a conditional create in the ledger (the dedup lock), then enqueued; it is
 *   marked done in the snapshot only after both succeeded, so a crash in between is retried.
 * - Failures back off exponentially per server (1, 2, 4, ... s, capped, jittered); the server's
 *   state records lastError, consecutiveFailures and nextPollAt for operators.
 */
export async function pollServer(tick: PollTick, deps: PollDeps): Promise<PollResult> {
  const server = await deps.servers.get(tick.serverId);
  if (!server) return { status: 'skipped', reason: 'missing' };
  if (!server.active) return { status: 'skipped', reason: 'inactive' };

  const startedAt = deps.clock.now();
  const leaseUntil = new Date(startedAt.getTime() + deps.leaseSeconds * 1000);
  const state = await deps.pollState.acquireLease(server.id, deps.instanceId, leaseUntil, new Date(startedAt.getTime() + EARLY_TOLERANCE_MS));
  if (state === 'busy' || state === 'not-due') return { status: 'skipped', reason: state };

  const slot = await deps.slots.acquire(server.id, server.maxConnections, deps.instanceId, leaseUntil);
  if (slot === undefined) {
    await deps.pollState.releaseLease(server.id, deps.instanceId);
    deps.logger.info('poll_skipped', { serverId: server.id, serverName: server.name, reason: 'all connection slots in use' });
    return { status: 'skipped', reason: 'no-connection-slot' };
  }

  let session: SftpSession | undefined;
  let listingTimer: NodeJS.Timeout | undefined;
  // The connection and its slot are needed for the listing only: taking the ready versions (ledger
  // writes, enqueues) runs without them, so the transfers it feeds can use every connection.
  let hungUp: Promise<void> | undefined;
  const hangUp = () =>
    (hungUp ??= (async () => {
      clearTimeout(listingTimer);
      await session?.close();
      // A slot not released expires with its lease: the server is only one connection short until then.
      await deps.slots.release(server.id, slot, deps.instanceId).catch(() => {});
    })());
  try {
    session = await openSession(server, state.observedHostKey, { ...deps, firstSeen: { pollState: deps.pollState, logger: deps.logger } });
    // The whole listing's deadline, as a timer: the bounds' own check runs only as pages arrive.
    const listing = session;
    listingTimer = setTimeout(
      () => listing.abort(new SftpError('timeout', `listing ${server.remoteDir}: not finished within ${deps.listingBounds.maxSeconds} s (POLL_LISTING_TIMEOUT_SECONDS)`)),
      deps.listingBounds.maxSeconds * 1000,
    );
    const result = await listAndTake(server, session, state, startedAt, deps, hangUp);
    await deps.pollState.finish(
      server.id,
      deps.instanceId,
      {
        lastPollAt: startedAt.toISOString(),
        lastError: null,
        consecutiveFailures: 0,
        nextPollAt: nextRegularPoll(tick, server, startedAt),
        filesSeen: result.listed,
      },
      result.snapshotChanged ? result.snapshot : undefined,
    );
    deps.logger.info('poll_completed', {
      serverId: server.id,
      serverName: server.name,
      listed: result.listed,
      enqueued: result.enqueued,
      waiting: result.waiting,
      durationMs: deps.clock.now().getTime() - startedAt.getTime(),
    });
    return { status: 'polled', listed: result.listed, enqueued: result.enqueued, waiting: result.waiting };
  } catch (error) {
    return await recordPollFailure(server, state, startedAt, error, deps);
  } finally {
    await hangUp();
  }
}

/** Ready versions taken (ledger writes, then one enqueue) per round, once the listing is complete. */
const TAKE_BATCH = 100;

/**
 * A stable version seen by the listing, held until the listing completed within its bounds. An
 * unsafe name (see remote-name.ts) is judged once, when it becomes ready, and held only escaped
 * and cut, so a hostile name costs no more memory than a good one; its fileId is the raw path's,
 * so it is taken once.
 */
interface ReadyVersion {
  /** As listed; for an unsafe name, with `path` escaped. */
  file: ListedFile;
  fingerprint: bigint;
  firstSeen: number;
  /** A name that cannot be ingested: the version is quarantined instead of transferred. */
  unsafe?: { fileId: string; relativePath: string; reason: string };
}

/**
 * Lists the server and takes every ready version: a quarantine record for an unsafe name, else a
 * ledger record and a transfer job. Nothing is written or enqueued before the listing is
 * complete: a listing that fails half-way (past POLL_MAX_ENTRIES or POLL_MAX_DEPTH, a stall, a
 * lost connection) fails the poll with none of its files taken, rather than some. The ready list
 * is what this costs (measured with node --expose-gc): about 205 bytes per ready version with
 * 30-byte paths, so 20 MiB for 100,000 (the default POLL_MAX_ENTRIES); 1.2 KiB with 1,000-byte
 * paths (112 MiB), about the most a name within S3's 1,024-byte key limit can cost.
 * `listingDone` is called once the listing is complete, before anything is taken: the poll hangs up
 * the connection there.
 */
async function listAndTake(server: ServerRecord, session: SftpSession, state: PollState, startedAt: Date, deps: PollDeps, listingDone: () => Promise<void>) {
  const previous = await deps.pollState.loadSnapshot(state);
  const diff = new SnapshotDiff(previous, Math.floor(startedAt.getTime() / 1000), server.stableAfterSeconds);
  const ready: ReadyVersion[] = [];
  let listed = 0;
  let waiting = 0;
  let enqueued = 0;

  const filter = listingFilter(server.pattern);
  for await (const file of session.listFiles(server.remoteDir, { recursive: server.recursive, filter, bounds: deps.listingBounds })) {
    listed++;
    const observation = diff.observe(file);
    if (observation.status === 'waiting') waiting++;
    if (observation.status === 'ready') ready.push(readyVersion(server, file, observation.fingerprint, observation.firstSeen));
  }
  await listingDone();

  const take = async (batch: ReadyVersion[]) => {
    const jobs: TransferJob[] = [];
    const sent: ReadyVersion[] = [];
    for (let start = 0; start < batch.length; start += LEDGER_CONCURRENCY) {
      await Promise.all(
        batch.slice(start, start + LEDGER_CONCURRENCY).map(async (version) => {
          const { file, fingerprint, firstSeen, unsafe } = version;
          const fileId = unsafe?.fileId ?? fileVersionId(server.id, file);
          const detected: DetectedFile = {
            fileId,
            serverId: server.id,
            serverName: server.name,
            remotePath: file.path,
            relativePath: unsafe?.relativePath ?? relativeTo(server.remoteDir, file.path),
            size: file.size,
            mtime: file.mtime,
            discoveredAt: deps.clock.now().toISOString(),
          };
          try {
            if (unsafe) {
              const result = await deps.ledger.createQuarantined(detected, { code: 'unsafe_name', message: unsafe.reason });
              diff.taken(fingerprint);
              if (result.created) {
                deps.stats?.transition(server.id, undefined, 'quarantined');
                deps.stats?.failure(server.id, 'unsafe_name', new Date(detected.discoveredAt));
                deps.metrics?.fileFailed('unsafe_name', 'quarantined');
                deps.logger.warn('file_quarantined', { serverId: server.id, serverName: server.name, fileId, remotePath: file.path, code: 'unsafe_name', reason: unsafe.reason });
              }
              return;
            }
            const result = await deps.ledger.createIfAbsent(detected);
            if (result.created) deps.stats?.transition(server.id, undefined, 'pending');
            // A version still `pending` was created by a poll that died before enqueueing it.
            if (result.created || result.status === 'pending') {
              jobs.push(transferJobOf(detected));
              sent.push(version);
            } else {
              diff.taken(fingerprint);
            }
          } catch (error) {
            diff.retryLater(fingerprint, firstSeen);
            deps.logger.warn('ledger_write_failed', { serverId: server.id, serverName: server.name, fileId, remotePath: file.path, error: String(error) });
          }
        }),
      );
    }
    if (jobs.length === 0) return;
    try {
      await deps.transfers.sendAll(jobs);
    } catch (error) {
      for (const version of sent) diff.retryLater(version.fingerprint, version.firstSeen);
      throw error;
    }
    for (const version of sent) diff.taken(version.fingerprint);
    enqueued += jobs.length;
    for (const job of jobs) {
      deps.logger.info('file_detected', { serverId: server.id, serverName: server.name, fileId: job.fileId, remotePath: job.remotePath, size: job.size });
    }
  };

  for (let start = 0; start < ready.length; start += TAKE_BATCH) await take(ready.slice(start, start + TAKE_BATCH));
  return { listed, enqueued, waiting, snapshot: diff.next(), snapshotChanged: diff.changed };
}

/** A ready version as held until the listing is complete; an unsafe name is judged here, once. */
function readyVersion(server: ServerRecord, file: ListedFile, fingerprint: bigint, firstSeen: number): ReadyVersion {
  const relativePath = relativeTo(server.remoteDir, file.path);
  const reason = unsafeNameReason(relativePath, server.keyPrefix);
  if (reason === undefined && !file.directory) return { file, fingerprint, firstSeen };
  const why = reason ?? 'an unsafe name';
  return {
    file: { path: escapeName(file.path), size: file.size, mtime: file.mtime },
    fingerprint,
    firstSeen,
    unsafe: {
      fileId: fileVersionId(server.id, file),
      relativePath: escapeName(relativePath),
      reason: file.directory ? `${why}; a directory: its contents were not listed` : why,
    },
  };
}

/** Polls follow the tick grid: the next is due one interval after this tick was. */
function nextRegularPoll(tick: PollTick, server: ServerRecord, startedAt: Date): string {
  const due = Math.max(Date.parse(tick.dueAt) || startedAt.getTime(), startedAt.getTime() - server.pollIntervalSeconds * 1000);
  return new Date(due + server.pollIntervalSeconds * 1000).toISOString();
}
