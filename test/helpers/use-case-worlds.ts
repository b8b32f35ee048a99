import { fileVersionId } from '../../lib/domain/file-identity';
import type { ServerRecord } from '../../lib/domain/server';
import type { StatsSnapshot } from '../../lib/domain/stats';
import type { DetectedFile, NotifyJob, PollTick, TransferJob } from '../../lib/ports';
import type { NotifyDeps } from '../../lib/use-cases/notify';
import type { PollDeps } from '../../lib/use-cases/poll';
import type { TransferDeps } from '../../lib/use-cases/transfer';
import { InMemorySecretStore, InMemoryServerStore, InMemoryStats, ManualClock, RecordingLogger, RecordingMetrics, RecordingQueue } from './fakes';
import { InMemoryNotificationLedger, RecordingPublisher } from './fakes-notify';
import { InMemoryFileLedger, InMemoryPollLeases } from './fakes-poll';
import { InMemorySftpServer } from './fakes-sftp';
import { InMemoryConnectionSlots, InMemoryObjectStore, InMemoryTransferLedger, type LedgerEntry } from './fakes-transfer';

/**
 * The use cases' worlds: each use case's deps built from the in-memory fakes, with the fakes
 * exposed for the test to prepare and inspect. Time is a ManualClock; jitter is fixed at 0.5.
 */

/** The part size of the transfer tests: a few KiB make a multipart upload. */
export const PART = 1024;

export function testServer(overrides: Partial<ServerRecord> = {}): ServerRecord {
  return {
    id: 'server-1',
    name: 'acme',
    host: 'sftp.acme.example',
    port: 22,
    username: 'ingest',
    authMethod: 'password',
    secretArn: '',
    remoteDir: '/outbox',
    pattern: '*',
    recursive: false,
    pollIntervalSeconds: 60,
    hostKey: null,
    active: true,
    keyPrefix: 'acme',
    maxConnections: 2,
    stableAfterSeconds: 5,
    afterIngest: 'keep',
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

/** What every SFTP-facing use case shares: a registered server, its secret, the SFTP side, time, logs. */
async function sftpWorld(server: Partial<ServerRecord>) {
  const clock = new ManualClock();
  const servers = new InMemoryServerStore();
  const secrets = new InMemorySecretStore();
  const secretArn = await secrets.create('acme', { type: 'password', password: 's3cret' });
  const record = testServer({ secretArn, ...server });
  await servers.create(record);
  return {
    clock,
    servers,
    secrets,
    server: record,
    sftp: new InMemorySftpServer(),
    slots: new InMemoryConnectionSlots(clock),
    logger: new RecordingLogger(),
    stats: new InMemoryStats(),
    metrics: new RecordingMetrics(),
  };
}

/** Flushes the stats and reads one server's counters back, as the API would. */
export async function statsOf(world: { stats: InMemoryStats; clock: ManualClock }, serverId = 'server-1'): Promise<StatsSnapshot> {
  await world.stats.flush();
  return world.stats.read(serverId, world.clock.now());
}

/** The events logged, in order (optionally only those at `level`). */
export function events(logger: RecordingLogger, level?: string): string[] {
  return logger.lines.filter((line) => level === undefined || line.level === level).map((line) => line.event);
}

export async function transferWorld(overrides: Partial<TransferDeps> = {}, server: Partial<ServerRecord> = {}) {
  const world = await sftpWorld(server);
  // Several chunks a part, as the pipelined reader serves them.
  world.sftp.chunkBytes = PART / 4;
  const ledger = new InMemoryTransferLedger(world.clock);
  const store = new InMemoryObjectStore();
  const pollState = new InMemoryPollLeases(world.clock);
  const notifications = new RecordingQueue<NotifyJob>();
  const transfers = new RecordingQueue<TransferJob>();
  const deadLetters = new RecordingQueue<TransferJob>();
  const deps: TransferDeps = {
    ledger,
    servers: world.servers,
    secrets: world.secrets,
    pollState,
    slots: world.slots,
    sftp: world.sftp,
    store,
    notifications,
    transfers,
    deadLetters,
    logger: world.logger,
    instanceId: 'worker-1',
    leaseSeconds: 60,
    maxAttempts: 3,
    minPartBytes: PART,
    maxPartBytes: PART,
    partConcurrency: 2,
    checkpointIntervalMs: 0,
    backoffCapSeconds: 300,
    hostKeyPolicy: 'first-seen',
    random: () => 0.5,
    stats: world.stats,
    metrics: world.metrics,
    clock: world.clock,
    ...overrides,
  };
  /** Puts a file on the server and records it in the ledger as a poll would; returns its job. */
  const detect = (relativePath: string, data: Buffer | string, entry: Partial<LedgerEntry> = {}): TransferJob => {
    const remotePath = `${world.server.remoteDir}/${relativePath}`;
    world.sftp.put(remotePath, data);
    const listed = world.sftp.listed(remotePath);
    const file: DetectedFile = {
      fileId: fileVersionId(world.server.id, listed),
      serverId: world.server.id,
      serverName: world.server.name,
      remotePath,
      relativePath,
      size: listed.size,
      mtime: listed.mtime,
      discoveredAt: world.clock.now().toISOString(),
    };
    const added = ledger.add(file, entry);
    world.stats.transition(file.serverId, undefined, added.status);
    return { fileId: file.fileId, serverId: file.serverId, remotePath, size: file.size, mtime: file.mtime };
  };
  return { ...world, deps, ledger, store, pollState, notifications, transfers, deadLetters, detect };
}

export async function pollWorld(overrides: Partial<PollDeps> = {}, server: Partial<ServerRecord> = {}) {
  // Polled as often as files settle: each poll of a test is due.
  const world = await sftpWorld({ pollIntervalSeconds: 5, ...server });
  const pollState = new InMemoryPollLeases(world.clock);
  const ledger = new InMemoryFileLedger();
  const transfers = new RecordingQueue<TransferJob>();
  const ticks = new RecordingQueue<PollTick>();
  const deps: PollDeps = {
    servers: world.servers,
    secrets: world.secrets,
    pollState,
    slots: world.slots,
    ledger,
    transfers,
    ticks,
    sftp: world.sftp,
    clock: world.clock,
    logger: world.logger,
    instanceId: 'poller-1',
    leaseSeconds: 60,
    backoffCapSeconds: 300,
    listingBounds: { maxEntries: 1000, maxDepth: 4, maxSeconds: 30 },
    hostKeyPolicy: 'first-seen',
    random: () => 0.5,
    stats: world.stats,
    metrics: world.metrics,
    ...overrides,
  };
  /** A tick due now. */
  const tick = (): PollTick => ({ serverId: world.server.id, dueAt: world.clock.now().toISOString() });
  return { ...world, deps, pollState, ledger, transfers, ticks, tick };
}

export function notifyWorld(overrides: Partial<NotifyDeps> = {}) {
  const clock = new ManualClock('2026-12-01T00:01:00Z');
  const ledger = new InMemoryNotificationLedger(clock);
  const publisher = new RecordingPublisher();
  const logger = new RecordingLogger();
  const stats = new InMemoryStats();
  const metrics = new RecordingMetrics();
  const deps: NotifyDeps = {
    files: ledger,
    ledger,
    publisher,
    logger,
    leaseSeconds: 30,
    backoffCapSeconds: 300,
    maxRejections: 3,
    random: () => 0.5,
    stats,
    metrics,
    clock,
    ...overrides,
  };
  return { deps, clock, ledger, publisher, logger, stats, metrics };
}
