import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Container } from '../../lib/container';
import type { TransferJob } from '../../lib/ports';
import { SftpSessions } from '../../lib/use-cases/sftp-sessions';
import { TransferBatch } from '../../lib/use-cases/transfer-batch';
import { transferFile, type TransferDeps } from '../../lib/use-cases/transfer';
import { SftpError } from '../../lib/errors';
import { eventually } from '../helpers/eventually';
import { RecordingLogger } from '../helpers/fakes';
import type { Sshd } from '../../scripts/fixtures/sshd';
import type { TcpProxy } from '../../scripts/fixtures/tcp-proxy';
import { MiB, PART, TransferFixture } from '../helpers/transfer-fixture';
import { environmentOf } from '../../scripts/fixtures/resources';

let fixture: TransferFixture;
let sshd: Sshd;
let proxy: TcpProxy;
let container: Container;
let prefix: string;
let queueUrls: Record<string, string>;
let deps: TransferDeps;

before(async () => {
  fixture = await TransferFixture.start();
  ({ sshd, proxy, container, prefix, queueUrls, deps } = fixture);
});
after(() => fixture.stop());

const serverFor = (fields?: Record<string, unknown>) => fixture.serverFor(fields);
const detected = (...args: Parameters<TransferFixture['detected']>) => fixture.detected(...args);
const ledgerEntry = (fileId: string) => fixture.ledgerEntry(fileId);
const openSession = (serverId: string) => fixture.openSession(serverId);
const objectBytes = (key: string) => fixture.objectBytes(key);
const notifications = () => fixture.drain('notify');
const deadLetters = () => fixture.drain('transfer-dlq');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('transfer: byte-exact round trips', () => {
  for (const [label, size] of [
    ['0 B', 0],
    ['1 B', 1],
    ['part size - 1', PART - 1],
    ['part size', PART],
    ['part size + 1', PART + 1],
    ['3.5 parts', Math.floor(3.5 * PART)],
  ] as const) {
    it(`${label}: lands byte-exact with its SHA-256 in the ledger and its origin in the object metadata, then is announced`, async () => {
      const { server, dir } = await serverFor();
      const content = randomBytes(size);
      const job = await detected(server, dir, `file-${size}.bin`, content);
      const outcome = await transferFile(job, deps);
      assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
      const key = `${server.keyPrefix}/file-${size}.bin`;
      const stored = await objectBytes(key);
      assert.equal(stored.length, size);
      assert.ok(stored.equals(content), 'byte-exact');
      const entry = await ledgerEntry(job.fileId);
      assert.equal(entry?.status, 'uploaded');
      assert.equal(entry?.sha256, sha256(content));
      assert.equal(entry?.objectKey, key);
      const head = await container.clients.s3.send(new HeadObjectCommand({ Bucket: container.config.S3_BUCKET, Key: key, VersionId: entry?.versionId }));
      assert.equal(head.Metadata?.['file-id'], job.fileId);
      assert.equal(head.Metadata?.['server-name'], server.name);
      assert.equal(decodeURIComponent(head.Metadata?.['source-path'] ?? ''), job.remotePath);
      assert.ok((await notifications()).includes(job.fileId), 'notification enqueued after upload');
    });
  }
});

describe('transfer: exactly once', () => {
  it('uploads once and announces once when SQS delivers the same job twice, even concurrently', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'dup.bin', randomBytes(2 * PART + 3));
    await notifications();
    const results = await Promise.all([transferFile(job, deps), transferFile(job, { ...deps, instanceId: 'other-worker' })]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['in-progress-elsewhere', 'uploaded']);
    assert.equal((await transferFile(job, deps)).status, 'already-done');
    assert.deepEqual((await notifications()).filter((id) => id === job.fileId), [job.fileId]);
  });
});

describe('transfer: files that change or vanish', () => {
  it('marks a file deleted after listing as vanished, and never retries it', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'gone.csv', Buffer.from('soon gone'));
    unlinkSync(job.remotePath);
    assert.deepEqual(await transferFile(job, deps), { status: 'vanished', reason: 'vanished' });
    assert.equal((await ledgerEntry(job.fileId))?.status, 'vanished');
    assert.deepEqual(await transferFile(job, deps), { status: 'gone' });
  });

  it('does not mark uploaded a file that grew while it was being read', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'growing.bin', randomBytes(4 * PART));
    proxy.onceAfter(PART, () => appendFileSync(job.remotePath, randomBytes(1000)));
    const outcome = await transferFile(job, deps);
    assert.deepEqual(outcome, { status: 'vanished', reason: 'changed' });
    assert.notEqual((await ledgerEntry(job.fileId))?.status, 'uploaded');
    const listed = await container.clients.s3.send(new ListObjectsV2Command({ Bucket: container.config.S3_BUCKET, Prefix: `${server.keyPrefix}/` }));
    assert.equal(listed.KeyCount ?? 0, 0, 'no object for the changed version');
  });
});

describe('transfer: interruptions', () => {
  it('resumes from the last completed part after the connection is cut mid-transfer', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(6 * PART + 12345);
    const job = await detected(server, dir, 'cut.bin', content);
    const start = proxy.bytesFromServer;
    proxy.cutAfter(Math.floor(3.4 * PART));
    const first = await transferFile(job, deps);
    assert.equal(first.status, 'retry', JSON.stringify(first));
    const entry = await ledgerEntry(job.fileId);
    assert.equal(entry?.status, 'failed');
    assert.ok(entry?.uploadedBytes >= 2 * PART, `checkpointed ${entry?.uploadedBytes}`);

    const second = await transferFile(job, deps);
    assert.equal(second.status, 'uploaded', JSON.stringify(second));
    // Read again: from the last checkpoint, so at most the parts that were in flight when the
    // connection was cut (a part the store finished after the cut is re-read for the digest only).
    const reread = proxy.bytesFromServer - start - content.length;
    assert.ok(reread < deps.partConcurrency * PART, `bytes read twice: ${reread} (must be under the ${deps.partConcurrency} parts in flight, ${deps.partConcurrency * PART})`);
    assert.ok((await objectBytes(`${server.keyPrefix}/cut.bin`)).equals(content));
    assert.equal((await ledgerEntry(job.fileId))?.sha256, sha256(content), 'digest resumed, not restarted');
  });

  it('starts the upload over, and still gets the digest right, when the saved digest state cannot be restored', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(4 * PART + 99);
    const job = await detected(server, dir, 'foreign-state.bin', content);
    proxy.cutAfter(Math.floor(2.5 * PART));
    assert.equal((await transferFile(job, deps)).status, 'retry');
    // As if written by another build of the digest.
    await container.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: container.config.FILES_TABLE,
        Key: { fileId: { S: job.fileId } },
        UpdateExpression: 'SET hashState = :state',
        ExpressionAttributeValues: { ':state': { S: 'v0:not-a-state-this-build-knows' } },
      }),
    );
    const logger = new RecordingLogger();
    const outcome = await transferFile(job, { ...deps, logger });
    assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
    assert.ok(logger.lines.some((line) => line.event === 'transfer_restarted'));
    assert.ok((await objectBytes(`${server.keyPrefix}/foreign-state.bin`)).equals(content));
    assert.equal((await ledgerEntry(job.fileId))?.sha256, sha256(content));
  });

  it('lets another worker finish when the first is killed mid-transfer', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(8 * PART);
    const job = await detected(server, dir, 'killed.bin', content);
    proxy.throttle(8 * MiB);
    const worker = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../scripts/fixtures/transfer-worker.ts')], {
      env: { ...process.env, ...environmentOf(container.config), TRANSFER_LEASE_SECONDS: '5', S3_PART_SIZE_MIB: '5', S3_MAX_PART_SIZE_MIB: '5', TRANSFER_PART_CONCURRENCY: '1', TRANSFER_CHECKPOINT_SECONDS: '0', JOB: JSON.stringify(job) },
      stdio: 'ignore',
    });
    try {
      await eventually('the worker past its second part', async () => (((await ledgerEntry(job.fileId))?.uploadedBytes ?? 0) >= 2 * PART ? true : undefined), 30_000, { everyMs: 100 });
    } finally {
      worker.kill('SIGKILL');
      proxy.throttle(0);
    }
    assert.equal((await transferFile(job, deps)).status, 'in-progress-elsewhere', 'the dead worker\'s lease still holds');
    // Once the dead worker's lease lapses the next delivery takes the file over and resumes it.
    const outcome = await eventually(
      'the lapsed lease taken over',
      async () => {
        const attempt = await transferFile(job, deps);
        return attempt.status === 'in-progress-elsewhere' ? undefined : attempt;
      },
      30_000,
      { everyMs: 500 },
    );
    assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
    assert.ok((await objectBytes(`${server.keyPrefix}/killed.bin`)).equals(content));
    const listed = await container.clients.s3.send(new ListObjectsV2Command({ Bucket: container.config.S3_BUCKET, Prefix: `${server.keyPrefix}/` }));
    assert.equal(listed.KeyCount, 1, 'exactly one object');
  });
});

/** The SFTP account may only delete or move files in directories it can write (as on real servers). */
function writableBySftpUser(...dirs: string[]) {
  for (const dir of dirs) chmodSync(dir, 0o777);
}

describe('transfer: long transfers', () => {
  it('checkpoints and re-enqueues itself when the invocation nears its time limit, then continues', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(4 * PART);
    const job = await detected(server, dir, 'long.bin', content);
    const transferQueueUrl = Object.entries(queueUrls).find(([name]) => name === `${prefix}-transfer`)![1];
    const start = proxy.bytesFromServer;
    let parts = 0;
    const first = await transferFile(job, { ...deps, shouldYield: () => ++parts >= 2 });
    assert.equal(first.status, 'continued', JSON.stringify(first));
    const { uploadId } = (await ledgerEntry(job.fileId))!;
    assert.ok((await container.sweepDeps.stale.uploadsInUse()).has(String(uploadId)), 'the orphan sweep sees the paused upload as owned');
    const { Messages = [] } = await container.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: transferQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    assert.ok(Messages.some((message) => (JSON.parse(message.Body!) as TransferJob).fileId === job.fileId), 'the rest is re-enqueued');
    const second = await transferFile(job, deps);
    assert.equal(second.status, 'uploaded', JSON.stringify(second));
    assert.ok((await objectBytes(`${server.keyPrefix}/long.bin`)).equals(content));
    const reread = proxy.bytesFromServer - start - content.length;
    assert.ok(reread < PART, `the continuation re-reads less than a part (re-read ${reread} bytes)`);
  });
});

describe('transfer: checkpoints', () => {
  it('never moves the resume point back when a later checkpoint would land before an earlier one', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'ordered.bin', randomBytes(4 * PART));
    // Part 1 finishes first and its checkpoint write is slow; part 2 finishes while it is in flight.
    const store = Object.create(deps.store) as TransferDeps['store'];
    store.uploadPart = async (...args) => {
      if (args[2] === 2) await new Promise((resolve) => setTimeout(resolve, 200));
      return deps.store.uploadPart(...args);
    };
    const ledger = Object.create(deps.ledger) as TransferDeps['ledger'];
    ledger.checkpoint = async (fileId, owner, progress) => {
      if (progress.partCount === 1) await new Promise((resolve) => setTimeout(resolve, 800));
      return deps.ledger.checkpoint(fileId, owner, progress);
    };
    let flushed = 0;
    const first = await transferFile(job, { ...deps, store, ledger, shouldYield: () => ++flushed >= 2 });
    assert.deepEqual(first, { status: 'continued', uploadedBytes: 2 * PART });
    const entry = await ledgerEntry(job.fileId);
    assert.equal(entry?.partCount, 2, 'the checkpoint of both parts is the one that stays');
    assert.equal(entry?.uploadedBytes, 2 * PART);
  });

  it('writes at most one checkpoint per interval, and always the last one before completing', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(6 * PART);
    const job = await detected(server, dir, 'rate-limited.bin', content);
    const ledger = Object.create(deps.ledger) as TransferDeps['ledger'];
    const written: number[] = [];
    ledger.checkpoint = async (fileId, owner, progress) => {
      written.push(progress.partCount);
      return deps.ledger.checkpoint(fileId, owner, progress);
    };
    const outcome = await transferFile(job, { ...deps, ledger, checkpointIntervalMs: 60_000 });
    assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
    assert.deepEqual(written, [1, 6], 'the first part at once, then nothing until the end (the interval never passed), then all six');
    assert.equal((await ledgerEntry(job.fileId))?.sha256, sha256(content));
  });
});

describe('transfer: memory', () => {
  it("collects ssh2's garbage every 4 MiB read when the runtime exposes gc (--expose-gc, as the transfer function runs)", async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(10 * MiB + 1);
    const job = await detected(server, dir, 'collected.bin', content);
    const session = await openSession(server.id);
    const runtime = globalThis as { gc?: (options?: { type?: string }) => void };
    const exposed = runtime.gc;
    const collections: string[] = [];
    runtime.gc = (options) => void collections.push(options?.type ?? 'major');
    try {
      let bytes = 0;
      for await (const chunk of session.read(job.remotePath, 0, content.length, { lendChunks: true })) bytes += chunk.length;
      assert.equal(bytes, content.length);
    } finally {
      runtime.gc = exposed;
      await session.close();
    }
    assert.deepEqual(collections, ['minor', 'minor'], 'one young collection per 4 MiB read');
  });
});

describe('transfer: connections', () => {
  it('fails a request on a connection that closed with connection_lost instead of waiting for an answer forever', async () => {
    const { server } = await serverFor();
    const session = await openSession(server.id);
    const closed = new Promise((resolve) => setImmediate(resolve));
    proxy.cutAll();
    await closed;
    // Whether ssh2 has seen the close yet or not, the answer is an error, never a request left pending.
    await assert.rejects(
      (async () => {
        for (let attempt = 0; attempt < 50; attempt++) {
          await session.stat('/');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      (error: unknown) => error instanceof SftpError && ['connection_lost', 'protocol'].includes(error.code),
    );
    await session.close();
  });

  it('sends the files of one batch from the same server through one SFTP connection', async () => {
    const { server, dir } = await serverFor();
    const files = [randomBytes(10), randomBytes(PART + 1), randomBytes(0), randomBytes(4096)];
    const jobs = await Promise.all(files.map((content, index) => detected(server, dir, `batch-${index}.bin`, content)));
    const sessions = new SftpSessions(deps);
    const connectionsBefore = proxy.connections;
    try {
      for (const job of jobs) assert.equal((await transferFile(job, { ...deps, sessions })).status, 'uploaded');
    } finally {
      await sessions.closeAll();
    }
    assert.equal(proxy.connections - connectionsBefore, 1, 'one connection for the whole batch');
    for (const [index, content] of files.entries()) assert.ok((await objectBytes(`${server.keyPrefix}/batch-${index}.bin`)).equals(content));
    const slot = await container.transferDeps.slots.acquire(server.id, 1, 'probe', new Date(Date.now() + 10_000));
    assert.ok(slot !== undefined, 'the connection slot is free again after the batch');
    await container.transferDeps.slots.release(server.id, slot, 'probe');
  });

  it('runs several small files of one server at once over one shared connection', async () => {
    const { server, dir } = await serverFor();
    const files = Array.from({ length: 8 }, (_, index) => randomBytes(1000 + index));
    const jobs = await Promise.all(files.map((content, index) => detected(server, dir, `shared-${index}.bin`, content)));
    const sessions = new SftpSessions(deps);
    const connectionsBefore = proxy.connections;
    try {
      const outcomes = await Promise.all(jobs.map((job) => transferFile(job, { ...deps, sessions })));
      assert.deepEqual(outcomes.map((outcome) => outcome.status), jobs.map(() => 'uploaded'));
    } finally {
      await sessions.closeAll();
    }
    assert.equal(proxy.connections - connectionsBefore, 1, 'eight concurrent transfers, one connection');
    for (const [index, content] of files.entries()) assert.ok((await objectBytes(`${server.keyPrefix}/shared-${index}.bin`)).equals(content));
  });

  it('keeps a warm connection for the next batch, then closes it and frees its slot once idle', async () => {
    const { server, dir } = await serverFor({ maxConnections: 1 });
    const first = await detected(server, dir, 'warm-1.bin', randomBytes(100));
    const second = await detected(server, dir, 'warm-2.bin', randomBytes(100));
    const sessions = new SftpSessions(deps, { keepIdleSeconds: 1 });
    const connectionsBefore = proxy.connections;
    assert.equal((await transferFile(first, { ...deps, sessions })).status, 'uploaded');
    assert.equal((await transferFile(second, { ...deps, sessions })).status, 'uploaded');
    assert.equal(proxy.connections - connectionsBefore, 1, 'the second batch reused the idle connection');
    // The only slot is held while the connection idles, and comes free once it has closed.
    assert.equal(await container.transferDeps.slots.acquire(server.id, 1, 'probe', new Date(Date.now() + 10_000)), undefined);
    const slot = await eventually('the slot free once the idle connection closed', () => container.transferDeps.slots.acquire(server.id, 1, 'probe', new Date(Date.now() + 10_000)), 15_000);
    await container.transferDeps.slots.release(server.id, slot, 'probe');
  });

  it('sends a batch\'s notifications together and re-enqueues the files it deferred', async () => {
    const { server, dir } = await serverFor();
    const jobs = await Promise.all(Array.from({ length: 12 }, (_, index) => detected(server, dir, `batched-${index}.bin`, randomBytes(50))));
    await notifications();
    await fixture.drain('transfer');
    const batch = new TransferBatch(deps);
    for (const job of jobs.slice(0, 11)) assert.equal((await transferFile(job, batch.deps())).status, 'uploaded');
    batch.defer(jobs[11]!, 0, 'message-12');
    assert.deepEqual(await batch.finish(), [], 'every deferred job re-enqueued');
    assert.deepEqual((await notifications()).sort(), jobs.slice(0, 11).map((job) => job.fileId).sort(), 'each uploaded file announced once');
    assert.deepEqual(await fixture.drain('transfer'), [jobs[11]!.fileId]);
  });

  it('does not lend a session again after a transfer on it failed', async () => {
    const { server, dir } = await serverFor();
    const first = await detected(server, dir, 'cut-first.bin', randomBytes(3 * PART));
    const second = await detected(server, dir, 'after-cut.bin', randomBytes(1000));
    const sessions = new SftpSessions(deps);
    try {
      proxy.cutAfter(PART);
      assert.equal((await transferFile(first, { ...deps, sessions })).status, 'retry');
      assert.equal((await transferFile(second, { ...deps, sessions })).status, 'uploaded', 'the next file gets a fresh connection');
    } finally {
      await sessions.closeAll();
    }
  });

  it('leaves a file for later, unclaimed and without counting an attempt, while its server is at its connection cap', async () => {
    const { server, dir } = await serverFor({ maxConnections: 1 });
    const job = await detected(server, dir, 'waits.bin', randomBytes(1000));
    const held = await container.transferDeps.slots.acquire(server.id, 1, 'other-worker', new Date(Date.now() + 60_000));
    assert.ok(held !== undefined);
    try {
      const outcome = await transferFile(job, { ...deps, random: () => 0 });
      assert.deepEqual(outcome, { status: 'retry', code: 'no_connection_slot', delaySeconds: 2 });
      const entry = await ledgerEntry(job.fileId);
      assert.equal(entry?.status, 'pending', 'released for the next delivery');
      assert.equal(entry?.attempts ?? 0, 0, 'waiting is not a failed attempt');
    } finally {
      await container.transferDeps.slots.release(server.id, held, 'other-worker');
    }
    assert.equal((await transferFile(job, deps)).status, 'uploaded', 'taken once the slot is free');
  });
});

describe('transfer: slow links', () => {
  it('spreads a large file over several SFTP channels of one connection when the round trip is long', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(3 * PART + 12_345);
    const job = await detected(server, dir, 'far-away.bin', content);
    const connectionsBefore = proxy.connections;
    proxy.delay(10); // 20 ms round trip
    try {
      const session = await openSession(server.id);
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of session.read(job.remotePath, 0, content.length)) chunks.push(chunk);
      } finally {
        await session.close();
      }
      assert.ok(Buffer.concat(chunks).equals(content), 'striped chunks come back in order, byte-exact');
      assert.ok((session as unknown as { lastReadChannels: number }).lastReadChannels >= 2, 'read over several channels');
      assert.equal(proxy.connections - connectionsBefore, 1, 'all channels share one connection');

      const outcome = await transferFile(job, deps);
      assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
      assert.ok((await objectBytes(`${server.keyPrefix}/far-away.bin`)).equals(content));
    } finally {
      proxy.delay(0);
    }
  });

  it('reads over one channel when the link is fast', async () => {
    const { server, dir } = await serverFor();
    const content = randomBytes(2 * PART);
    const job = await detected(server, dir, 'near.bin', content);
    const record = (await container.serverDeps.servers.get(server.id))!;
    const { session } = await container.transferDeps.sftp.connect(record, await container.serverDeps.secrets.read(record.secretArn), sshd.hostKey);
    try {
      let bytes = 0;
      for await (const chunk of session.read(job.remotePath, 0, content.length, { lendChunks: true })) bytes += chunk.length;
      assert.equal(bytes, content.length);
      assert.equal((session as unknown as { lastReadChannels: number }).lastReadChannels, 1);
    } finally {
      await session.close();
    }
  });
});

describe('transfer: after ingest', () => {
  it('deletes the remote file only after the object is verified, when asked to', async () => {
    const { server, dir } = await serverFor({ afterIngest: 'delete' });
    const job = await detected(server, dir, 'delete-me.csv', Buffer.from('bye'));
    writableBySftpUser(join(sshd.root, dir));
    assert.equal((await transferFile(job, deps)).status, 'uploaded');
    assert.equal((await objectBytes(`${server.keyPrefix}/delete-me.csv`)).toString(), 'bye');
    assert.throws(() => statSync(job.remotePath), /ENOENT/);
  });

  it('moves the remote file into the given directory, keeping its relative path', async () => {
    const done = `${sshd.root}/done-${fixture.counter + 1}`;
    const { server, dir } = await serverFor({ afterIngest: `move:${done}` });
    const job = await detected(server, dir, 'nested/move-me.csv', Buffer.from('moved'));
    writableBySftpUser(join(sshd.root, dir, 'nested'), sshd.root);
    assert.equal((await transferFile(job, deps)).status, 'uploaded');
    assert.equal(statSync(`${done}/nested/move-me.csv`).size, 5);
    assert.throws(() => statSync(job.remotePath), /ENOENT/);
  });

  it('keeps the remote file by default', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'keep.csv', Buffer.from('kept'));
    assert.equal((await transferFile(job, deps)).status, 'uploaded');
    assert.equal(statSync(job.remotePath).size, 4);
  });
});

describe('transfer: hostile names', () => {
  for (const relativePath of ['../escape.csv', 'a/../../b.csv', './x.csv', 'a//b.csv', 'line\nbreak.csv', `${'x'.repeat(1100)}.csv`]) {
    it(`quarantines ${JSON.stringify(relativePath.slice(0, 40))} instead of writing outside the prefix`, async () => {
      const { server, dir } = await serverFor();
      const job = await detected(server, dir, `hostile-${fixture.counter}.csv`, Buffer.from('x'), relativePath);
      assert.deepEqual(await transferFile(job, deps), { status: 'quarantined', reason: 'unsafe_name' });
      assert.equal((await ledgerEntry(job.fileId))?.status, 'quarantined');
      assert.ok((await deadLetters()).includes(job.fileId), 'parked in the dead-letter queue');
    });
  }

  it('keeps names with spaces and non-ASCII characters, inside the prefix', async () => {
    const { server, dir } = await serverFor();
    const job = await detected(server, dir, 'spaces and ünïcode.csv', Buffer.from('ok'));
    const outcome = await transferFile(job, deps);
    assert.equal(outcome.status === 'uploaded' && outcome.key, `${server.keyPrefix}/spaces and ünïcode.csv`);
  });
});

after(async () => {
  await container.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: fixture.queueUrl('notify') })).catch(() => {});
  rmSync(join(sshd.root), { recursive: true, force: true });
});
