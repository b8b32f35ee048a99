import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SftpError, StoreError } from '../../lib/errors';
import { transferFile } from '../../lib/use-cases/transfer';
import { events, PART, statsOf, transferWorld } from '../helpers/use-case-worlds';

const hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('transferFile: uploaded', () => {
  it('stores a small file with one verified PUT, records it, announces it, and frees its connection', async () => {
    const world = await transferWorld();
    const data = Buffer.from('id,amount\n1,10\n');
    const job = world.detect('a.csv', data);
    // The read takes 4 s of the clock: the ingest latency is measured from the claim.
    world.sftp.onChunk = () => world.clock.advance(4);

    const outcome = await transferFile(job, world.deps);

    assert.deepEqual(outcome, { status: 'uploaded', key: 'acme/a.csv', sha256: hex(data), bytesRead: data.length });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.equal(entry.status, 'uploaded');
    assert.equal(entry.leaseOwner, undefined);
    assert.deepEqual(entry.result, { key: 'acme/a.csv', bucket: 'test-bucket', sha256: hex(data), etag: entry.result!.etag, versionId: 'v1', objectChecksum: createHash('sha256').update(data).digest('base64') });
    const object = world.store.objects.get('acme/a.csv')!;
    assert.deepEqual(object.body, data);
    assert.deepEqual(object.metadata, { fileId: job.fileId, sourcePath: '/outbox/a.csv', sourceMtime: new Date(job.mtime * 1000).toISOString(), serverName: 'acme' });
    assert.equal(world.store.count('createMultipartUpload'), 0);
    assert.deepEqual(world.notifications.messages, [{ message: { fileId: job.fileId }, delaySeconds: undefined }]);
    assert.deepEqual(world.metrics.calls, [['fileIngested', data.length, 4]]);
    assert.deepEqual(events(world.logger), ['file_uploaded']);
    const stats = await statsOf(world);
    assert.deepEqual([stats.counts.pending, stats.counts.transferring, stats.counts.uploaded], [0, 0, 1]);
    assert.deepEqual(stats.totals, { filesIngested: 1, bytesIngested: data.length });
    assert.equal(world.slots.inUse('server-1'), 0);
    assert.equal(world.sftp.openSessions, 0);
  });

  it('streams a larger file into verified parts, completes them in order and tags the whole-file digest', async () => {
    const world = await transferWorld();
    const data = randomBytes(3 * PART + 100);
    const job = world.detect('big.bin', data);

    const outcome = await transferFile(job, world.deps);

    assert.deepEqual(outcome, { status: 'uploaded', key: 'acme/big.bin', sha256: hex(data), bytesRead: data.length });
    assert.deepEqual(world.store.calls.filter((call) => call.operation === 'uploadPart').map((call) => call.partNumber), [1, 2, 3, 4]);
    const object = world.store.objects.get('acme/big.bin')!;
    assert.deepEqual(object.body, data);
    assert.equal(object.digest, hex(data));
    assert.match(object.checksum, /-4$/);
    assert.equal(world.ledger.entries.get(job.fileId)!.result!.objectChecksum, object.checksum);
    // One checkpoint per part (interval 0), over the contiguous prefix; the upload is forgotten once uploaded.
    assert.deepEqual(world.ledger.checkpoints.map((checkpoint) => checkpoint.partCount), [1, 2, 3, 4]);
    assert.deepEqual(world.ledger.checkpoints.map((checkpoint) => checkpoint.uploadedBytes), [PART, 2 * PART, 3 * PART, data.length]);
    assert.equal(world.ledger.entries.get(job.fileId)!.upload, undefined);
    assert.equal(world.store.uploads.size, 0);
  });

  it('resumes an upload a failed read interrupted from its checkpoint, reading and sending only the rest', async () => {
    const world = await transferWorld();
    const data = randomBytes(4 * PART);
    const job = world.detect('big.bin', data);
    world.sftp.readFailure = { path: job.remotePath, afterBytes: 2 * PART + 10, error: new SftpError('connection_lost', 'the connection dropped') };

    const first = await transferFile(job, world.deps);
    assert.deepEqual(first, { status: 'retry', code: 'connection_lost', delaySeconds: 1 });
    const failed = world.ledger.entries.get(job.fileId)!;
    assert.equal(failed.status, 'failed');
    // Part 2 may still have been in flight when the read failed: checkpointed, or held by the store ahead of it.
    const checkpointed = failed.upload!.partCount;
    assert.ok(checkpointed === 1 || checkpointed === 2, String(checkpointed));
    assert.equal(failed.upload!.uploadedBytes, checkpointed * PART);

    world.sftp.readFailure = undefined;
    world.clock.advance(2);
    const sentBefore = world.store.count('uploadPart');
    const second = await transferFile(job, world.deps);

    assert.deepEqual(second, { status: 'uploaded', key: 'acme/big.bin', sha256: hex(data), bytesRead: data.length });
    assert.deepEqual(world.sftp.reads.at(-1), { path: job.remotePath, start: checkpointed * PART, end: data.length });
    assert.deepEqual(world.store.calls.filter((call) => call.operation === 'uploadPart').slice(sentBefore).map((call) => call.partNumber), [3, 4]);
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
    assert.equal(world.store.count('createMultipartUpload'), 1);
    const resumed = world.logger.lines.find((line) => line.event === 'transfer_resumed');
    assert.deepEqual([resumed?.fields.fromByte, resumed?.fields.parts, resumed?.fields.storedAhead], [checkpointed * PART, checkpointed, 2 - checkpointed]);
    assert.equal(world.ledger.entries.get(job.fileId)!.attempts, 2);
  });

  it('deletes or moves the remote file only after the object is recorded, and a failure there is only logged', async () => {
    for (const [afterIngest, expected] of [
      ['delete', { removed: ['/outbox/a.csv'], moved: [] }],
      ['move:/done', { removed: [], moved: [['/outbox/a.csv', '/done/a.csv']] }],
    ] as const) {
      const world = await transferWorld({}, { afterIngest });
      const job = world.detect('a.csv', 'x');
      assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
      const [session] = world.sftp.sessions;
      assert.deepEqual({ removed: session!.removed, moved: session!.moved }, expected);
      assert.ok(events(world.logger).includes('after_ingest_done'));
    }
    const world = await transferWorld({}, { afterIngest: 'delete' });
    const job = world.detect('a.csv', 'x');
    const connect = world.sftp.connect.bind(world.sftp);
    world.sftp.connect = async (...args) => {
      const opened = await connect(...args);
      opened.session.remove = () => Promise.reject(new SftpError('permission_denied', 'read-only'));
      return opened;
    };
    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.equal(world.ledger.entries.get(job.fileId)!.status, 'uploaded');
    assert.deepEqual(events(world.logger, 'warn'), ['after_ingest_failed']);
  });
});

describe('transferFile: not claimed', () => {
  for (const [status, outcome] of [
    ['uploaded', 'already-done'],
    ['notified', 'already-done'],
    ['quarantined', 'gone'],
    ['vanished', 'gone'],
  ] as const) {
    it(`is ${outcome} for a ${status} version, and touches nothing`, async () => {
      const world = await transferWorld();
      const job = world.detect('a.csv', 'x', { status });
      assert.deepEqual(await transferFile(job, world.deps), { status: outcome });
      assert.equal(world.ledger.entries.get(job.fileId)!.status, status);
      assert.equal(world.sftp.reads.length, 0);
      assert.equal(world.store.calls.length, 0);
      assert.equal(world.slots.inUse('server-1'), 0);
      assert.equal(world.sftp.openSessions, 0);
    });
  }

  it('is in-progress-elsewhere while another worker holds a live lease, and takes over a lapsed one', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x', { status: 'transferring', attempts: 1 });
    world.ledger.takeOver(job.fileId); // leased for 60 s
    assert.deepEqual(await transferFile(job, world.deps), { status: 'in-progress-elsewhere' });
    assert.equal(world.ledger.entries.get(job.fileId)!.leaseOwner, 'another-worker');

    world.clock.advance(61);
    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.equal(world.ledger.entries.get(job.fileId)!.attempts, 2);
  });

  it('is in-progress-elsewhere when the lease is taken over mid-upload, and writes no outcome', async () => {
    const world = await transferWorld();
    const job = world.detect('big.bin', randomBytes(3 * PART));
    world.sftp.onChunk = () => world.ledger.takeOver(job.fileId);
    assert.deepEqual(await transferFile(job, world.deps), { status: 'in-progress-elsewhere' });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.leaseOwner], ['transferring', 'another-worker']);
    assert.deepEqual(events(world.logger, 'warn'), ['transfer_lease_lost']);
    assert.equal(world.store.objects.size, 0);
    assert.deepEqual(world.notifications.messages, []);
  });

  it('is missing for a version the ledger does not know', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.ledger.entries.delete(job.fileId);
    assert.deepEqual(await transferFile(job, world.deps), { status: 'missing' });
    assert.equal(world.sftp.openSessions, 0);
  });
});

describe('transferFile: vanished', () => {
  it('is vanished when the file is gone before it is read', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.sftp.files.delete(job.remotePath);
    assert.deepEqual(await transferFile(job, world.deps), { status: 'vanished', reason: 'vanished' });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.lastError?.code], ['vanished', 'vanished']);
    assert.deepEqual(world.metrics.calls, [['fileFailed', 'vanished', 'vanished']]);
    assert.deepEqual(events(world.logger, 'warn'), ['file_vanished']);
    assert.deepEqual(world.deadLetters.messages, []);
    assert.equal((await statsOf(world)).counts.vanished, 1);
  });

  it('is vanished (changed) when the file is another version than the one listed', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.sftp.put(job.remotePath, 'grown since');
    assert.deepEqual(await transferFile(job, world.deps), { status: 'vanished', reason: 'changed' });
    assert.equal(world.store.calls.length, 0);
  });

  it('never commits a file that changed while it was read, and aborts its parts', async () => {
    const world = await transferWorld();
    const data = randomBytes(2 * PART + 1);
    const job = world.detect('big.bin', data);
    world.sftp.onChunk = (path, served) => {
      if (served === data.length) world.sftp.files.get(path)!.mtime++;
    };
    assert.deepEqual(await transferFile(job, world.deps), { status: 'vanished', reason: 'changed' });
    assert.equal(world.store.objects.size, 0);
    assert.deepEqual(world.store.aborted, ['upload-1']);
    assert.equal(world.ledger.entries.get(job.fileId)!.status, 'vanished');
    assert.deepEqual(world.notifications.messages, []);
  });
});

describe('transferFile: quarantined', () => {
  it('gives up after maxAttempts and parks the job in the dead-letter queue', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x', { status: 'failed', attempts: 3 });
    assert.deepEqual(await transferFile(job, world.deps), { status: 'quarantined', reason: 'max_attempts' });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.lastError?.code], ['quarantined', 'max_attempts']);
    assert.deepEqual(world.deadLetters.messages.map(({ message }) => message), [job]);
    assert.deepEqual(world.metrics.calls, [['fileFailed', 'max_attempts', 'quarantined']]);
    assert.deepEqual(events(world.logger, 'error'), ['transfer_quarantined']);
    const stats = await statsOf(world);
    assert.deepEqual([stats.counts.quarantined, stats.counts.failed, stats.last24h.failures], [1, 0, { max_attempts: 1 }]);
    assert.equal(world.sftp.reads.length, 0);
    assert.equal(world.slots.inUse('server-1'), 0);
  });

  it('quarantines the version of a server deleted before its transfer, connecting to nothing', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.servers.servers.clear();
    assert.deepEqual(await transferFile(job, world.deps), { status: 'quarantined', reason: 'server_deleted' });
    assert.equal(world.sftp.connects.length, 0);
    assert.equal(world.deadLetters.messages.length, 1);
  });

  it('quarantines a name that would make an unsafe object key', async () => {
    const world = await transferWorld();
    const job = world.detect('../escape.csv', 'x');
    assert.deepEqual(await transferFile(job, world.deps), { status: 'quarantined', reason: 'unsafe_name' });
    assert.equal(world.store.calls.length, 0);
    assert.equal(world.sftp.openSessions, 0);
    assert.equal(world.slots.inUse('server-1'), 0);
  });

  it('quarantines at once on an error a retry cannot help (refused password, denied bucket)', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.sftp.connectError = new SftpError('auth_failed', 'authentication failed', { retryable: false });
    assert.deepEqual(await transferFile(job, world.deps), { status: 'quarantined', reason: 'auth_failed' });
    assert.deepEqual(events(world.logger, 'error'), ['transfer_failed_fatally', 'transfer_quarantined']);
    assert.equal(world.slots.inUse('server-1'), 0);

    const other = world.detect('b.csv', 'y');
    world.sftp.connectError = undefined;
    world.store.failNext('putObject', new StoreError('access_denied', 'AccessDenied'));
    assert.deepEqual(await transferFile(other, world.deps), { status: 'quarantined', reason: 'access_denied' });
    assert.equal(world.ledger.entries.get(other.fileId)!.lastError?.message, 'AccessDenied');
  });

  it('quarantines a retryable failure on the last attempt', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x', { status: 'failed', attempts: 2 });
    world.sftp.connectError = new SftpError('connect_failed', 'ECONNREFUSED');
    assert.deepEqual(await transferFile(job, world.deps), { status: 'quarantined', reason: 'connect_failed' });
    assert.equal(world.ledger.entries.get(job.fileId)!.attempts, 3);
  });
});

describe('transferFile: retry', () => {
  it('records a retryable failure with a backoff that grows with the attempts', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.sftp.connectError = new SftpError('connect_failed', 'connect ECONNREFUSED');

    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'connect_failed', delaySeconds: 1 });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.lastError, entry.nextAttemptAt], ['failed', { code: 'connect_failed', message: 'connect ECONNREFUSED' }, '2026-12-01T00:00:01.000Z']);
    assert.deepEqual(world.metrics.calls, [['fileFailed', 'connect_failed', 'retrying']]);
    assert.deepEqual(events(world.logger, 'warn'), ['transfer_failed']);

    world.clock.advance(1);
    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'connect_failed', delaySeconds: 2 });
    assert.equal(world.ledger.entries.get(job.fileId)!.nextAttemptAt, '2026-12-01T00:00:03.000Z');
    const stats = await statsOf(world);
    assert.deepEqual([stats.counts.failed, stats.counts.transferring, stats.last24h.failures], [1, 0, { connect_failed: 2 }]);
  });

  it('gives an unexpected error a generic code and retries it', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    world.store.failNext('putObject', new TypeError('boom'));
    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'internal:TypeError', delaySeconds: 1 });
  });

  it('leaves the version untouched and comes back later while the server is at its connection cap', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'x');
    const until = new Date(world.clock.now().getTime() + 60_000);
    await world.slots.acquire('server-1', 2, 'poller', until);
    await world.slots.acquire('server-1', 2, 'other-worker', until);

    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'no_connection_slot', delaySeconds: 3 });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.attempts], ['pending', 0]);
    assert.equal(world.sftp.connects.length, 0);
    assert.deepEqual(world.metrics.calls, []);
  });
});

describe('transferFile: continued', () => {
  it('checkpoints and hands the rest to the next delivery when the invocation must yield', async () => {
    const world = await transferWorld({ shouldYield: () => true });
    const data = randomBytes(3 * PART);
    const job = world.detect('big.bin', data);

    assert.deepEqual(await transferFile(job, world.deps), { status: 'continued', uploadedBytes: PART });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.leaseOwner, entry.upload?.partCount, entry.attempts], ['pending', undefined, 1, 1]);
    assert.deepEqual(world.transfers.messages.map(({ message }) => message), [job]);
    assert.deepEqual(events(world.logger), ['transfer_continued']);
    assert.equal((await statsOf(world)).counts.pending, 1);

    const rest = await transferFile(job, { ...world.deps, shouldYield: () => false });
    assert.deepEqual(rest, { status: 'uploaded', key: 'acme/big.bin', sha256: hex(data), bytesRead: data.length });
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
  });
});
