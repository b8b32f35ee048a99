import { RecordingQueue } from '../../scripts/fixtures/recording-queue';
import type { ServerCredentials } from '../../lib/domain/credentials';
import { ALWAYS_DENIED_CIDRS, DestinationPolicy, parseCidr, type Cidr } from '../../lib/domain/destination';
import type { ServerRecord } from '../../lib/domain/server';
import { statsKey } from '../../lib/adapters/dynamodb-stats';
import { snapshotOf, StatsDeltas, windowHours, type Counters } from '../../lib/domain/stats';
import type { Clock, FileCatalog, FileStatus, FileView, Logger, OperationalMetrics, Page, PollState, PollTick, PutResult, RedriveLedger, SecretStore, ServerStore, StatsReader, StatsRecorder, UpdateResult } from '../../lib/ports';
import type { ServerDeps } from '../../lib/use-cases/servers';

/** In-memory ServerStore with the same contract as the DynamoDB one (unique names, versions). */
export class InMemoryServerStore implements ServerStore {
  readonly servers = new Map<string, ServerRecord>();

  async create(server: ServerRecord, options: { maxServers?: number } = {}): Promise<PutResult> {
    if ([...this.servers.values()].some((existing) => existing.name === server.name)) return 'name-taken';
    if (this.prefixClashes(server)) return 'prefix-taken';
    if (options.maxServers !== undefined && this.servers.size >= options.maxServers) return 'limit-reached';
    this.servers.set(server.id, structuredClone(server));
    return 'created';
  }
  /** Another server's key prefix equals, contains or lies inside this one's. */
  private prefixClashes(server: ServerRecord): boolean {
    const inside = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);
    return [...this.servers.values()].some((other) => other.id !== server.id && (inside(server.keyPrefix, other.keyPrefix) || inside(other.keyPrefix, server.keyPrefix)));
  }
  async get(id: string) {
    const server = this.servers.get(id);
    return server && structuredClone(server);
  }
  async list(limit: number, nextToken?: string): Promise<Page<ServerRecord>> {
    const all = [...this.servers.values()].sort((a, b) => `${a.createdAt}#${a.id}`.localeCompare(`${b.createdAt}#${b.id}`));
    const start = nextToken === undefined ? 0 : Number(nextToken);
    const items = all.slice(start, start + limit);
    return { items, ...(start + limit < all.length ? { nextToken: String(start + limit) } : {}) };
  }
  async update(server: ServerRecord, expected: { version: number; name: string; keyPrefix: string }): Promise<UpdateResult> {
    const current = this.servers.get(server.id);
    if (!current) return 'missing';
    if (current.version !== expected.version) return 'stale';
    if (server.name !== expected.name && [...this.servers.values()].some((other) => other.name === server.name)) return 'name-taken';
    if (this.prefixClashes(server)) return 'prefix-taken';
    this.servers.set(server.id, structuredClone(server));
    return 'updated';
  }
  async delete(server: ServerRecord) {
    return this.servers.delete(server.id);
  }
}

export class InMemorySecretStore implements SecretStore {
  readonly secrets = new Map<string, { name: string; value: ServerCredentials; versions: number }>();
  async create(name: string, credentials: ServerCredentials) {
    const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-abc123`;
    // As Secrets Manager: a name is taken while its secret exists.
    if (this.secrets.has(arn)) throw new Error(`a secret named ${name} already exists`);
    this.secrets.set(arn, { name, value: credentials, versions: 1 });
    return arn;
  }
  async replace(arn: string, credentials: ServerCredentials) {
    const secret = this.secrets.get(arn);
    if (!secret) return 'gone' as const;
    secret.value = credentials;
    secret.versions++;
    return 'replaced' as const;
  }
  async read(arn: string) {
    const secret = this.secrets.get(arn);
    if (!secret) throw new Error('no such secret');
    return secret.value;
  }
  async delete(arn: string) {
    this.secrets.delete(arn);
  }
}

export class InMemoryPollStateStore {
  readonly states = new Map<string, PollState>();
  async get(serverId: string) {
    return this.states.get(serverId);
  }
  async getMany(serverIds: string[]) {
    return new Map(serverIds.flatMap((id) => (this.states.has(id) ? [[id, this.states.get(id)!] as const] : [])));
  }
  async forget(serverId: string) {
    this.states.delete(serverId);
  }
  async forgetHostKey(serverId: string) {
    const state = this.states.get(serverId);
    if (state) this.states.set(serverId, { ...state, observedHostKey: undefined });
  }
}


export { RecordingQueue };

export class RecordingLogger implements Logger {
  readonly lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  debug = (event: string, fields: Record<string, unknown> = {}) => void this.lines.push({ level: 'debug', event, fields });
  info = (event: string, fields: Record<string, unknown> = {}) => void this.lines.push({ level: 'info', event, fields });
  warn = (event: string, fields: Record<string, unknown> = {}) => void this.lines.push({ level: 'warn', event, fields });
  error = (event: string, fields: Record<string, unknown> = {}) => void this.lines.push({ level: 'error', event, fields });
}

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | string = '2026-12-01T00:00:00Z') {
    this.current = new Date(start).getTime();
  }
  now() {
    return new Date(this.current);
  }
  advance(seconds: number) {
    this.current += seconds * 1000;
  }
}

/** OperationalMetrics that keeps each call as `[name, ...arguments]`. */
export class RecordingMetrics implements OperationalMetrics {
  readonly calls: [string, ...unknown[]][] = [];
  fileIngested = (bytes: number, transferSeconds: number) => void this.calls.push(['fileIngested', bytes, transferSeconds]);
  fileNotified = (seconds: number) => void this.calls.push(['fileNotified', seconds]);
  fileFailed = (code: string, outcome: 'retrying' | 'quarantined' | 'vanished') => void this.calls.push(['fileFailed', code, outcome]);
  pollFailed = (code: string, consecutiveFailures: number) => void this.calls.push(['pollFailed', code, consecutiveFailures]);
  notificationParked = (code: string) => void this.calls.push(['notificationParked', code]);
  publish = () => void this.calls.push(['publish']);
}

export function fakeServerDeps(overrides: Partial<Omit<ServerDeps, 'servers' | 'secrets' | 'logger' | 'pollState' | 'ticks'>> = {}) {
  let tick = 0;
  let nextId = 0;
  const deps: ServerDeps & {
    servers: InMemoryServerStore;
    secrets: InMemorySecretStore;
    logger: RecordingLogger;
    pollState: InMemoryPollStateStore;
    ticks: RecordingQueue<PollTick>;
  } = {
    servers: new InMemoryServerStore(),
    secrets: new InMemorySecretStore(),
    pollState: new InMemoryPollStateStore(),
    ticks: new RecordingQueue<PollTick>(),
    clock: { now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)) },
    ids: { newId: () => `00000000-0000-4000-8000-${String(++nextId).padStart(12, '0')}` },
    logger: new RecordingLogger(),
    secretPrefix: 'sluice/test/servers/',
    checkPrivateKey: () => undefined,
    destinations: new DestinationPolicy(ALWAYS_DENIED_CIDRS.map((range) => parseCidr(range) as Cidr)),
    minPollIntervalSeconds: 5,
    ...overrides,
  };
  return deps;
}

/** A file version as the in-memory files table holds it: the view plus the upload checkpoint. */
export type StoredVersion = FileView & { uploadId?: string };

/**
 * In-memory files table for the re-drive: FileCatalog.get and RedriveLedger with the DynamoDB
 * adapter's contract (the conditional requeue on status and statusSince; the server's history in
 * pages of `pageSize`, newest first).
 */
export class InMemoryFileVersions implements Pick<FileCatalog, 'get'>, RedriveLedger {
  readonly versions = new Map<string, StoredVersion>();
  constructor(private readonly pageSize = 2) {}

  put(version: StoredVersion) {
    this.versions.set(version.fileId, structuredClone(version));
  }
  async get(fileId: string) {
    const version = this.versions.get(fileId);
    if (!version) return undefined;
    const { uploadId: _uploadId, ...view } = version;
    return structuredClone(view);
  }
  async requeue(seen: Pick<FileView, 'fileId' | 'status' | 'statusSince'>, at: Date) {
    const version = this.versions.get(seen.fileId);
    if (!version || version.status !== seen.status || version.statusSince !== seen.statusSince) return 'stale' as const;
    const next: StoredVersion = { ...version, status: 'pending', statusSince: at.toISOString(), attempts: 0, nextAttemptAt: null };
    if (seen.status !== 'failed') delete next.uploadId;
    this.versions.set(seen.fileId, next);
    return (await this.get(seen.fileId))!;
  }
  async *versionsOf(serverId: string, filter: { statuses: FileStatus[] } | { notifiedSince: Date }) {
    const history = [...this.versions.values()].filter((version) => version.serverId === serverId).sort((a, b) => b.discoveredAt.localeCompare(a.discoveredAt));
    for (let start = 0; start < history.length; start += this.pageSize) {
      // As DynamoDB's filter: applied to each page read, so a page may come out empty.
      const page = history.slice(start, start + this.pageSize).filter((version) =>
        'statuses' in filter
          ? (filter.statuses as string[]).includes(version.status)
          : version.status === 'notified' && version.notifiedAt !== null && version.notifiedAt >= filter.notifiedSince.toISOString(),
      );
      if (page.length) yield await Promise.all(page.map(async (version) => (await this.get(version.fileId))!));
    }
  }
}

/**
 * In-memory stats items: the same accumulator and snapshot as DynamoStats (lib/domain/stats.ts),
 * with a flush that adds the deltas to a map instead of DynamoDB; `flushes` counts item writes.
 */
export class InMemoryStats implements StatsRecorder, StatsReader {
  readonly items = new Map<string, Counters>();
  private readonly deltas = new StatsDeltas();
  writes = 0;

  transition(serverId: string, from: FileStatus | undefined, to: FileStatus) {
    this.deltas.transition(serverId, from, to);
  }
  ingested(serverId: string, bytes: number, at: Date) {
    this.deltas.ingested(serverId, bytes, at);
  }
  failure(serverId: string, code: string, at: Date) {
    this.deltas.failure(serverId, code, at);
  }
  notified(serverId: string, seconds: number) {
    this.deltas.notified(serverId, seconds);
  }
  async flush() {
    for (const { scope, counters } of this.deltas.drain()) {
      this.writes++;
      const key = statsKey(scope);
      const item = this.items.get(key) ?? {};
      for (const [name, value] of Object.entries(counters)) item[name] = (item[name] ?? 0) + value;
      this.items.set(key, item);
    }
  }
  async read(serverId: string | undefined, now: Date) {
    const hours = windowHours(now);
    return snapshotOf(serverId, this.items.get(statsKey({ serverId })), hours.map((hour) => ({ hour, counters: this.items.get(statsKey({ serverId, hour })) })));
  }
}
