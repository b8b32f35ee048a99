import { PublishError, type PublishErrorCode } from '../../lib/errors';
import type { Clock, FileCatalog, FileIngestedMessage, FileView, NotificationLedger, Page, Publisher } from '../../lib/ports';
import { InMemoryFileVersions } from './fakes';

const systemClock: Clock = { now: () => new Date() };

/**
 * NotificationLedger over the in-memory files table, with the DynamoDB adapter's contract: a claim
 * takes an uploaded version (or a notified one `again`) whose notify lease is free or lapsed;
 * `markNotified` is a first announcement only from `uploaded`; failures count and release the claim.
 */
export class InMemoryNotificationLedger extends InMemoryFileVersions implements NotificationLedger, FileCatalog {
  /** Notify leases, epoch ms. */
  readonly leases = new Map<string, number>();
  readonly parked = new Set<string>();

  constructor(private readonly clock: Clock = systemClock) {
    super();
  }

  async listByServer(serverId: string, limit: number, nextToken?: string, status?: string): Promise<Page<FileView>> {
    const all = [...this.versions.values()].filter((version) => version.serverId === serverId && (status === undefined || version.status === status));
    const start = Number(nextToken ?? 0);
    const items = await Promise.all(all.slice(start, start + limit).map(async (version) => (await this.get(version.fileId))!));
    return { items, ...(start + limit < all.length ? { nextToken: String(start + limit) } : {}) };
  }

  async claim(fileId: string, until: Date, again: boolean) {
    const version = this.versions.get(fileId);
    if (!version) return 'missing' as const;
    const announceable = version.status === 'uploaded' || (again && version.status === 'notified');
    const leased = (this.leases.get(fileId) ?? 0) >= this.clock.now().getTime();
    if (!announceable || leased) {
      if (version.status === 'notified' && !again) return 'notified' as const;
      return version.status === 'uploaded' || version.status === 'notified' ? ('busy' as const) : ('not-uploaded' as const);
    }
    this.leases.set(fileId, until.getTime());
    return (await this.get(fileId))!;
  }

  async markNotified(fileId: string, at: Date) {
    const version = this.versions.get(fileId)!;
    const first = version.status === 'uploaded';
    if (!first && version.status !== 'notified') throw new Error('ConditionalCheckFailedException');
    version.notifiedAt ??= at.toISOString();
    Object.assign(version, { status: 'notified', statusSince: version.notifiedAt, notifyParked: false, notifyAttempts: 0, lastError: null });
    this.leases.delete(fileId);
    this.parked.delete(fileId);
    return first;
  }

  async recordFailure(fileId: string, error: { code: string; message: string }) {
    const version = this.versions.get(fileId)!;
    version.lastError = { ...error, at: this.clock.now().toISOString() };
    version.notifyAttempts++;
    this.leases.delete(fileId);
    return version.notifyAttempts;
  }

  async park(fileId: string) {
    this.versions.get(fileId)!.notifyParked = true;
    this.parked.add(fileId);
  }
}

/** A publisher that keeps what the broker confirmed, and refuses with the PublishError codes it is given. */
export class RecordingPublisher implements Publisher {
  readonly published: FileIngestedMessage[] = [];
  /** What the next publishes throw, in order (a PublishError code, or any error). */
  readonly failures: (PublishErrorCode | Error)[] = [];
  closed = false;

  async publish(message: FileIngestedMessage) {
    const failure = this.failures.shift();
    if (typeof failure === 'string') throw new PublishError(failure, `the broker did not take the message (${failure})`);
    if (failure) throw failure;
    this.published.push(structuredClone(message));
  }

  async close() {
    this.closed = true;
  }
}

/** An uploaded version as the files table holds it, ready to announce. */
export function uploadedVersion(fileId: string, overrides: Partial<FileView> = {}): FileView {
  return {
    fileId,
    serverId: 'server-1',
    serverName: 'acme',
    remotePath: '/outbox/a.csv',
    relativePath: 'a.csv',
    size: 12,
    mtime: '2026-11-30T23:00:00.000Z',
    status: 'uploaded',
    statusSince: '2026-12-01T00:00:30.000Z',
    discoveredAt: '2026-12-01T00:00:00.000Z',
    attempts: 1,
    lastError: null,
    nextAttemptAt: null,
    bucket: 'test-bucket',
    key: 'acme/a.csv',
    sha256: 'ab'.repeat(32),
    etag: '"etag-1"',
    versionId: 'v1',
    objectChecksum: null,
    uploadedAt: '2026-12-01T00:00:30.000Z',
    uploadedBytes: null,
    notifiedAt: null,
    notifyAttempts: 0,
    notifyParked: false,
    ...overrides,
  };
}
