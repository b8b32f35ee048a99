import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerRecord } from '../../lib/domain/server';
import { ConflictError, NotFoundError, NotRetryableError } from '../../lib/errors';
import type { DeadLetter, DeadLetterQueue, NotifyJob, TransferJob } from '../../lib/ports';
import { redriveDeadLetters, renotifyServer, retryFile, retryServer, type RedriveDeps } from '../../lib/use-cases/redrive';
import { InMemoryFileVersions, InMemoryServerStore, RecordingLogger, RecordingQueue, type StoredVersion } from '../helpers/fakes';

const SERVER = 'srv-1';
const id = (n: number) => n.toString(16).padStart(32, '0');

function version(n: number, fields: Partial<StoredVersion> = {}): StoredVersion {
  return {
    fileId: id(n),
    serverId: SERVER,
    serverName: 'acme',
    remotePath: `/out/${n}.csv`,
    relativePath: `${n}.csv`,
    size: 10,
    mtime: '2026-01-01T00:00:00.000Z',
    status: 'quarantined',
    statusSince: '2026-01-02T00:00:00.000Z',
    discoveredAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
    attempts: 3,
    lastError: { code: 'permission_denied', message: 'Permission denied', at: '2026-01-02T00:00:00.000Z' },
    nextAttemptAt: null,
    bucket: null,
    key: null,
    sha256: null,
    etag: null,
    versionId: null,
    objectChecksum: null,
    uploadedAt: null,
    uploadedBytes: null,
    notifiedAt: null,
    notifyAttempts: 0,
    notifyParked: false,
    ...fields,
  };
}

function fixture(options: { budgetMs?: number; clock?: () => Date } = {}) {
  const files = new InMemoryFileVersions(2);
  const servers = new InMemoryServerStore();
  servers.servers.set(SERVER, { id: SERVER, name: 'acme' } as ServerRecord);
  const transfers = new RecordingQueue<TransferJob>();
  const notifications = new RecordingQueue<NotifyJob>();
  const logger = new RecordingLogger();
  const deps: RedriveDeps = {
    files,
    ledger: files,
    servers,
    transfers,
    notifications,
    clock: { now: options.clock ?? (() => new Date('2026-02-01T00:00:00Z')) },
    logger,
    budgetMs: options.budgetMs ?? 60_000,
    concurrency: 2,
  };
  return { deps, files, servers, transfers, notifications, logger };
}

describe('retryFile', () => {
  it('sends a quarantined version back to pending with its attempts reset, forgets its aborted upload and enqueues its job', async () => {
    const { deps, files, transfers, logger } = fixture();
    files.put(version(1, { uploadId: 'aborted-upload' }));
    const view = await retryFile(id(1), deps, { requestId: 'req-1' });
    assert.equal(view.status, 'pending');
    assert.equal(view.attempts, 0);
    assert.equal(view.statusSince, '2026-02-01T00:00:00.000Z');
    assert.equal(view.lastError?.code, 'permission_denied', 'the last error stays until the next outcome replaces it');
    assert.equal(files.versions.get(id(1))!.uploadId, undefined);
    assert.deepEqual(transfers.messages.map(({ message }) => message), [{ fileId: id(1), serverId: SERVER, remotePath: '/out/1.csv', size: 10, mtime: 1_767_225_600 }]);
    const line = logger.lines.find((entry) => entry.event === 'file_retried');
    assert.equal(line?.fields.previousStatus, 'quarantined');
    assert.equal(line?.fields.requestId, 'req-1');
  });

  it('keeps the upload checkpoint of a failed version, which the next attempt resumes', async () => {
    const { deps, files } = fixture();
    files.put(version(1, { status: 'failed', uploadId: 'live-upload', nextAttemptAt: '2026-01-02T01:00:00.000Z' }));
    const view = await retryFile(id(1), deps);
    assert.equal(view.nextAttemptAt, null);
    assert.equal(files.versions.get(id(1))!.uploadId, 'live-upload');
  });

  it('refuses a version in any other status with a 409, and an unknown one with a 404', async () => {
    const { deps, files, transfers } = fixture();
    for (const [n, status] of [[1, 'notified'], [2, 'uploaded'], [3, 'pending'], [4, 'transferring']] as const) {
      files.put(version(n, { status }));
      await assert.rejects(retryFile(id(n), deps), (error) => error instanceof ConflictError && error.status === 409, status);
    }
    await assert.rejects(retryFile(id(99), deps), NotFoundError);
    assert.equal(transfers.messages.length, 0);
  });

  it('refuses what a retry cannot help: an unsafe name, a deleted server', async () => {
    const { deps, files } = fixture();
    files.put(version(1, { lastError: { code: 'unsafe_name', message: 'control character' } }));
    files.put(version(2, { lastError: { code: 'server_deleted', message: 'gone' } }));
    files.put(version(3, { status: 'failed', serverId: 'deleted-server' }));
    await assert.rejects(retryFile(id(1), deps), (error) => error instanceof NotRetryableError && error.status === 409 && /unsafe_name/.test(error.message));
    await assert.rejects(retryFile(id(2), deps), NotRetryableError);
    await assert.rejects(retryFile(id(3), deps), NotRetryableError);
  });

  it('of two concurrent retries, one enqueues the job and the other is a conflict', async () => {
    const { deps, files, transfers } = fixture();
    files.put(version(1));
    const results = await Promise.allSettled([retryFile(id(1), deps), retryFile(id(1), deps)]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
    assert.ok(results.some((result) => result.status === 'rejected' && result.reason instanceof ConflictError));
    assert.equal(transfers.messages.length, 1);
  });
});

describe('retryServer', () => {
  it('retries every failed, quarantined and vanished version of the server through all pages, skipping unsafe names', async () => {
    const { deps, files, transfers, logger } = fixture();
    files.put(version(1, { status: 'failed' }));
    files.put(version(2));
    files.put(version(3, { status: 'vanished' }));
    files.put(version(4, { status: 'notified' }));
    files.put(version(5, { lastError: { code: 'unsafe_name', message: 'bidi override' } }));
    files.put(version(6, { serverId: 'other-server' }));
    files.put(version(7));
    const result = await retryServer(SERVER, deps, { requestId: 'req-2' });
    assert.deepEqual(result, { retried: 4, complete: true });
    assert.deepEqual(transfers.messages.map(({ message }) => message.fileId).sort(), [id(1), id(2), id(3), id(7)]);
    assert.equal(files.versions.get(id(5))!.status, 'quarantined');
    assert.equal(files.versions.get(id(6))!.status, 'quarantined');
    assert.equal(logger.lines.find((line) => line.event === 'server_retried')?.fields.refused, 1);
  });

  it('takes only the status asked for', async () => {
    const { deps, files } = fixture();
    files.put(version(1, { status: 'failed' }));
    files.put(version(2));
    assert.deepEqual(await retryServer(SERVER, deps, { statuses: ['failed'] }), { retried: 1, complete: true });
    assert.equal(files.versions.get(id(2))!.status, 'quarantined');
  });

  it('two concurrent server-wide retries enqueue one job per version between them', async () => {
    const { deps, files, transfers } = fixture();
    for (let n = 1; n <= 9; n++) files.put(version(n));
    const [first, second] = await Promise.all([retryServer(SERVER, deps), retryServer(SERVER, deps)]);
    assert.equal(first.retried + second.retried, 9);
    assert.equal(new Set(transfers.messages.map(({ message }) => message.fileId)).size, 9);
    assert.equal(transfers.messages.length, 9);
  });

  it('stops when its time budget runs out, says so, and a second call takes the rest', async () => {
    let now = Date.parse('2026-02-01T00:00:00Z');
    // Every clock reading moves time on by a second: the budget of 3 s lasts a few writes.
    const { deps, files, transfers } = fixture({ budgetMs: 3000, clock: () => new Date((now += 1000)) });
    for (let n = 1; n <= 8; n++) files.put(version(n));
    const first = await retryServer(SERVER, deps);
    assert.equal(first.complete, false);
    assert.ok(first.retried > 0 && first.retried < 8, `retried ${first.retried}`);
    let total = first.retried;
    for (let calls = 0; calls < 10 && total < 8; calls++) total += (await retryServer(SERVER, deps)).retried;
    assert.equal(total, 8);
    assert.equal(transfers.messages.length, 8, 'no version taken twice');
  });

  it('answers 404 for an unknown server', async () => {
    const { deps } = fixture();
    await assert.rejects(retryServer('nope', deps), NotFoundError);
  });
});

describe('renotifyServer', () => {
  it('enqueues a notify job marked again for every version first announced since then, and only those', async () => {
    const { deps, files, notifications } = fixture();
    files.put(version(1, { status: 'notified', notifiedAt: '2026-01-10T00:00:00.000Z' }));
    files.put(version(2, { status: 'notified', notifiedAt: '2026-01-20T00:00:00.000Z' }));
    files.put(version(3, { status: 'notified', notifiedAt: '2026-01-15T00:00:00.000Z' }));
    files.put(version(4, { status: 'uploaded' }));
    files.put(version(5, { status: 'notified', notifiedAt: '2026-01-25T00:00:00.000Z', serverId: 'other-server' }));
    const result = await renotifyServer(SERVER, new Date('2026-01-15T00:00:00Z'), deps);
    assert.deepEqual(result, { queued: 2, complete: true });
    assert.deepEqual(
      notifications.messages.map(({ message }) => message).sort((a, b) => a.fileId.localeCompare(b.fileId)),
      [{ fileId: id(2), again: true }, { fileId: id(3), again: true }],
    );
    await assert.rejects(renotifyServer('nope', new Date(), deps), NotFoundError);
  });
});

class FakeDeadLetterQueue implements DeadLetterQueue {
  readonly messages: (DeadLetter & { hidden: boolean })[] = [];
  add(body: unknown) {
    const n = this.messages.length;
    this.messages.push({ messageId: `m${n}`, receiptHandle: `r${n}`, body: typeof body === 'string' ? body : JSON.stringify(body), hidden: false });
  }
  async receive() {
    const visible = this.messages.filter((message) => !message.hidden).slice(0, 10);
    for (const message of visible) message.hidden = true;
    return visible.map(({ hidden: _hidden, ...message }) => message);
  }
  async delete(messages: DeadLetter[]) {
    for (const { messageId } of messages) this.messages.splice(this.messages.findIndex((message) => message.messageId === messageId), 1);
  }
  async release(messages: DeadLetter[]) {
    for (const { messageId } of messages) this.messages.find((message) => message.messageId === messageId)!.hidden = false;
  }
}

const jobFor = (n: number, serverId = SERVER): TransferJob => ({ fileId: id(n), serverId, remotePath: `/out/${n}.csv`, size: 10, mtime: 1_767_225_600 });

describe('redriveDeadLetters', () => {
  it('transfer: retries quarantined versions, moves pending ones, drops done and unretryable ones, keeps what is not theirs', async () => {
    const { deps, files, transfers } = fixture();
    files.put(version(1));
    files.put(version(2, { status: 'pending' }));
    files.put(version(3, { status: 'notified' }));
    files.put(version(4, { lastError: { code: 'server_deleted', message: 'gone' } }));
    const deadLetters = new FakeDeadLetterQueue();
    for (const n of [1, 2, 3, 4, 5]) deadLetters.add(jobFor(n));
    deadLetters.add('not json');
    const report = await redriveDeadLetters('transfer', { ...deps, deadLetters });
    assert.deepEqual(report, {
      moved: 1,
      retried: 1,
      dropped: { 'already ingested': 1, 'not retryable: its server was deleted (server_deleted)': 1, 'unknown version': 1 },
      kept: { 'not a job': 1 },
    });
    assert.equal(files.versions.get(id(1))!.status, 'pending');
    assert.deepEqual(transfers.messages.map(({ message }) => message.fileId).sort(), [id(1), id(2)]);
    assert.deepEqual(deadLetters.messages.map((message) => [message.body, message.hidden]), [['not json', false]], 'only the unreadable one is left, visible again');
  });

  it('a dry run changes nothing and counts what it would do; --server-id leaves the other servers alone', async () => {
    const { deps, files, transfers } = fixture();
    files.put(version(1));
    files.put(version(2, { serverId: 'srv-2' }));
    const deadLetters = new FakeDeadLetterQueue();
    deadLetters.add(jobFor(1));
    deadLetters.add(jobFor(2, 'srv-2'));
    const dry = await redriveDeadLetters('transfer', { ...deps, deadLetters }, { dryRun: true, serverId: SERVER });
    assert.deepEqual(dry, { moved: 0, retried: 1, dropped: {}, kept: { 'another server': 1 } });
    assert.equal(files.versions.get(id(1))!.status, 'quarantined');
    assert.equal(transfers.messages.length, 0);
    assert.equal(deadLetters.messages.filter((message) => !message.hidden).length, 2);
    const real = await redriveDeadLetters('transfer', { ...deps, deadLetters }, { serverId: SERVER });
    assert.equal(real.retried, 1);
    assert.deepEqual(deadLetters.messages.map((message) => JSON.parse(message.body).fileId), [id(2)]);
  });

  it('notify: moves the jobs of versions still to announce (and renotify jobs), drops announced ones', async () => {
    const { deps, files, notifications } = fixture();
    files.put(version(1, { status: 'uploaded' }));
    files.put(version(2, { status: 'notified', notifiedAt: '2026-01-10T00:00:00.000Z' }));
    files.put(version(3, { status: 'notified', notifiedAt: '2026-01-10T00:00:00.000Z' }));
    const deadLetters = new FakeDeadLetterQueue();
    deadLetters.add({ fileId: id(1) });
    deadLetters.add({ fileId: id(2) });
    deadLetters.add({ fileId: id(3), again: true });
    const report = await redriveDeadLetters('notify', { ...deps, deadLetters });
    assert.deepEqual(report, { moved: 2, retried: 0, dropped: { 'already announced': 1 }, kept: {} });
    assert.deepEqual(notifications.messages.map(({ message }) => message), [{ fileId: id(1) }, { fileId: id(3), again: true }]);
    assert.equal(deadLetters.messages.length, 0);
  });
});
