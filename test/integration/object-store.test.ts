import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { connect, type ChannelModel } from 'amqplib';
import { AmqpPublisher } from '../../lib/adapters/amqp-publisher';
import { S3ObjectStore } from '../../lib/adapters/s3-object-store';
import { StoreError } from '../../lib/errors';
import type { ObjectStore, TransferJob } from '../../lib/ports';
import { ingestedMessage, notifyFile } from '../../lib/use-cases/notify';
import { sweep } from '../../lib/use-cases/sweep';
import { transferFile, type TransferDeps, type TransferOutcome } from '../../lib/use-cases/transfer';
import { RecordingLogger } from '../helpers/fakes';
import { SHARED_AMQP_URL } from '../helpers/rabbitmq';
import { MiB, PART, TransferFixture } from '../helpers/transfer-fixture';
import { environmentOf } from '../../scripts/fixtures/resources';

/**
 * What only a real object store can prove (MinIO here): checksums refused, parts listed, multipart
 * uploads listed, object versions kept, objects of several GiB. On the emulator these are skipped.
 */
const skip = process.env.SLUICE_TEST_S3 === 'minio' ? false : 'needs a real object store: run with SLUICE_TEST_S3=minio (npm run minio:install)';

let fixture: TransferFixture;
let deps: TransferDeps;

before(async () => {
  if (skip) return;
  fixture = await TransferFixture.start();
  deps = fixture.deps;
});
after(async () => {
  await fixture?.stop();
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const bucket = () => fixture.container.config.S3_BUCKET;
const s3 = () => fixture.container.clients.s3;

/** A store that sends what it is given, except as `change` says (a decorator over the real adapter). */
function storeWith(change: Partial<ObjectStore>): ObjectStore {
  return Object.assign(Object.create(deps.store) as ObjectStore, change);
}

/** Part numbers sent to the store, in order. */
function countingParts(store: ObjectStore): { store: ObjectStore; sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    store: storeWith({
      uploadPart: (key, uploadId, partNumber, body, checksum) => {
        sent.push(partNumber);
        return store.uploadPart(key, uploadId, partNumber, body, checksum);
      },
    }),
  };
}

async function versionsOf(key: string) {
  const { Versions = [] } = await s3().send(new ListObjectVersionsCommand({ Bucket: bucket(), Prefix: key }));
  return Versions.filter((version) => version.Key === key);
}

/** Transfers once the lease a dead worker holds on the file has lapsed: waits for the deadline the ledger records. */
async function transferAfterLeaseLapses(job: TransferJob, transferDeps: TransferDeps): Promise<TransferOutcome> {
  const { leaseUntil } = (await fixture.ledgerEntry(job.fileId)) ?? {};
  assert.equal(typeof leaseUntil, 'number', 'the dead worker left its lease in the ledger');
  await delay(Math.max(0, Number(leaseUntil) - Date.now() + 50));
  return transferFile(job, transferDeps);
}

describe('object store: versions and checksums on a real store', { skip }, () => {
  it("keeps each version's own bytes: key + versionId of each announcement reads back bytes with its sha256", async () => {
    const { server, dir } = await fixture.serverFor();
    const first = randomBytes(3 * PART);
    const firstJob = await fixture.detected(server, dir, 'report.bin', first);
    assert.equal((await transferFile(firstJob, deps)).status, 'uploaded');
    const second = randomBytes(1000);
    writeFileSync(firstJob.remotePath, second);
    utimesSync(firstJob.remotePath, new Date(), new Date(Date.now() + 60_000));
    const secondJob = await fixture.detected(server, dir, 'report.bin');
    assert.notEqual(secondJob.fileId, firstJob.fileId, 'a new version');
    assert.equal((await transferFile(secondJob, deps)).status, 'uploaded');

    const messages = await Promise.all([firstJob, secondJob].map(async (job) => ingestedMessage((await fixture.container.files.get(job.fileId))!)));
    assert.equal(messages[0]!.key, messages[1]!.key, 'one key for both versions');
    assert.ok(messages[0]!.versionId && messages[1]!.versionId && messages[0]!.versionId !== messages[1]!.versionId, 'each message names its own object version');
    for (const [index, content] of [first, second].entries()) {
      const message = messages[index]!;
      assert.equal(message.sha256, sha256(content));
      assert.equal(sha256(await fixture.objectBytes(message.key, message.versionId)), message.sha256, `version ${index + 1} reads back its own bytes`);
      const { TagSet = [] } = await s3().send(new GetObjectTaggingCommand({ Bucket: bucket(), Key: message.key, VersionId: message.versionId }));
      assert.deepEqual(TagSet, [{ Key: 'sha256', Value: message.sha256 }], 'the digest sits on the object as a tag');
    }
    const [multipart, single] = await Promise.all([firstJob, secondJob].map((job) => fixture.ledgerEntry(job.fileId)));
    assert.match(String(multipart?.objectChecksum), /^[A-Za-z0-9+/]+=*-3$/, "the store's composite checksum of 3 parts");
    assert.equal(single?.objectChecksum, createHash('sha256').update(second).digest('base64'), "a single PUT's store checksum is the file's SHA-256");
    assert.equal((await versionsOf(messages[0]!.key)).length, 2);
  });

  it('refuses a part corrupted between hashing and sending, and the part is sent again', async () => {
    const { server, dir } = await fixture.serverFor();
    const content = randomBytes(4 * PART + 17);
    const job = await fixture.detected(server, dir, 'corrupted-on-the-way.bin', content);
    const sends: { partNumber: number; refused: boolean }[] = [];
    const store = storeWith({
      uploadPart: async (key, uploadId, partNumber, body, checksum) => {
        const corrupt = partNumber === 2 && !sends.some((send) => send.partNumber === 2);
        const sent = corrupt ? Buffer.from(body) : body;
        if (corrupt) sent[12_345] = sent[12_345]! ^ 0xff;
        try {
          const etag = await deps.store.uploadPart(key, uploadId, partNumber, sent, checksum);
          sends.push({ partNumber, refused: false });
          return etag;
        } catch (error) {
          sends.push({ partNumber, refused: error instanceof StoreError && error.code === 'checksum_mismatch' });
          throw error;
        }
      },
    });
    const logger = new RecordingLogger();
    const outcome = await transferFile(job, { ...deps, store, logger });
    assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
    assert.deepEqual(
      sends.filter((send) => send.partNumber === 2),
      [
        { partNumber: 2, refused: true },
        { partNumber: 2, refused: false },
      ],
      'the store refused the corrupted part; the second send went through',
    );
    assert.ok(logger.lines.some((line) => line.event === 'checksum_refused' && line.fields.partNumber === 2));
    const entry = await fixture.ledgerEntry(job.fileId);
    assert.ok((await fixture.objectBytes(entry?.objectKey, entry?.versionId)).equals(content), 'byte-exact');
  });
});

describe('object store: resume, cross-checked with the store', { skip }, () => {
  it('a part the store took but the checkpoint missed (worker killed in between) is neither lost nor sent twice', async () => {
    const { server, dir } = await fixture.serverFor();
    const content = randomBytes(6 * PART + 4321);
    const job = await fixture.detected(server, dir, 'killed-before-checkpoint.bin', content);
    const config = environmentOf(fixture.container.config);
    const worker = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../scripts/fixtures/transfer-worker.ts')], {
      env: { ...process.env, ...config, TRANSFER_LEASE_SECONDS: '5', S3_PART_SIZE_MIB: '5', S3_MAX_PART_SIZE_MIB: '5', TRANSFER_PART_CONCURRENCY: '1', TRANSFER_CHECKPOINT_SECONDS: '0', CRASH_AT_CHECKPOINT: '3', JOB: JSON.stringify(job) },
      stdio: 'ignore',
    });
    const [, signal] = (await once(worker, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', 'the worker died between UploadPart 3 and its checkpoint');

    const entry = await fixture.ledgerEntry(job.fileId);
    assert.equal(entry?.partCount, 2, 'the checkpoint covers parts 1-2');
    const held = await deps.store.listParts(entry?.objectKey, entry?.uploadId);
    assert.notEqual(held, 'unsupported');
    assert.deepEqual(
      (held as { partNumber: number }[]).map((part) => part.partNumber),
      [1, 2, 3],
      'ListParts: the store holds part 3 although no checkpoint records it',
    );

    const counting = countingParts(deps.store);
    const logger = new RecordingLogger();
    const outcome = await transferAfterLeaseLapses(job, { ...deps, store: counting.store, logger });
    assert.equal(outcome.status, 'uploaded', JSON.stringify(outcome));
    assert.deepEqual(counting.sent, [4, 5, 6, 7], 'parts 1-3 were not sent again');
    assert.ok(logger.lines.some((line) => line.event === 'part_already_stored' && line.fields.partNumber === 3));
    const done = await fixture.ledgerEntry(job.fileId);
    assert.match(String(done?.objectChecksum), /-7$/, 'the object is made of 7 parts, each once');
    assert.ok((await fixture.objectBytes(done?.objectKey, done?.versionId)).equals(content), 'byte-exact');
    assert.equal(done?.sha256, sha256(content));
    assert.equal((await versionsOf(String(done?.objectKey))).length, 1, 'one object version');
    assert.deepEqual(
      (await fixture.drain('notify')).filter((id) => id === job.fileId),
      [job.fileId],
      'one announcement',
    );
  });

  it('after a cut connection the store holds exactly the checkpointed parts, and the retry completes from there', async () => {
    const { server, dir } = await fixture.serverFor();
    const content = randomBytes(6 * PART + 99);
    const job = await fixture.detected(server, dir, 'cut-and-listed.bin', content);
    fixture.proxy.cutAfter(Math.floor(3.4 * PART));
    assert.equal((await transferFile(job, deps)).status, 'retry');
    const entry = await fixture.ledgerEntry(job.fileId);
    const held = (await deps.store.listParts(entry?.objectKey, entry?.uploadId)) as { partNumber: number; etag: string }[];
    const checkpointed = await deps.ledger.loadParts(job.fileId, entry?.uploadId, entry?.partCount);
    for (const part of checkpointed) {
      assert.equal(held.find((stored) => stored.partNumber === part.partNumber)?.etag, part.etag, `part ${part.partNumber} is in the store as checkpointed`);
    }
    const counting = countingParts(deps.store);
    assert.equal((await transferFile(job, { ...deps, store: counting.store })).status, 'uploaded');
    assert.ok(counting.sent.every((number) => number > checkpointed.length), `only parts after the checkpoint were sent: ${counting.sent.join(',')}`);
    const done = await fixture.ledgerEntry(job.fileId);
    assert.match(String(done?.objectChecksum), /-7$/);
    assert.ok((await fixture.objectBytes(done?.objectKey, done?.versionId)).equals(content));
  });
});

describe('object store: the orphan-upload sweep on ListMultipartUploads', { skip }, () => {
  it('aborts an old upload no transfer owns and keeps the one a paused transfer owns', async () => {
    // A bucket of its own: the sweep owns a whole bucket, and other tests' uploads must not look orphaned.
    const sweptBucket = `sluice-sweep-${randomBytes(4).toString('hex')}`;
    await s3().send(new CreateBucketCommand({ Bucket: sweptBucket }));
    const store = new S3ObjectStore({ client: s3(), bucket: sweptBucket });
    const { server, dir } = await fixture.serverFor();
    const content = randomBytes(3 * PART);
    const job = await fixture.detected(server, dir, 'paused.bin', content);
    let parts = 0;
    assert.equal((await transferFile(job, { ...deps, store, shouldYield: () => ++parts >= 1 })).status, 'continued');
    const orphan = await store.createMultipartUpload(`${server.keyPrefix}/left-behind.bin`, { fileId: 'f'.repeat(32), sourcePath: '/x', sourceMtime: new Date().toISOString(), serverName: server.name });
    const owned = String((await fixture.ledgerEntry(job.fileId))?.uploadId);

    const listed = await store.listMultipartUploads(100);
    assert.notEqual(listed, 'unsupported', 'MinIO lists the bucket\'s multipart uploads');
    assert.deepEqual(new Set((listed as { uploadId: string }[]).map((upload) => upload.uploadId)), new Set([owned, orphan]));

    const report = await sweep({ ...fixture.container.sweepDeps, store, orphanUploadAfterSeconds: 3600 }, new Date(Date.now() + 2 * 3600_000));
    assert.equal(report.abortedUploads, 1);
    const left = (await store.listMultipartUploads(100)) as { uploadId: string }[];
    assert.deepEqual(left.map((upload) => upload.uploadId), [owned], 'the owned upload survives the sweep');

    assert.equal((await transferFile(job, { ...deps, store })).status, 'uploaded', 'and the paused transfer completes');
    const entry = await fixture.ledgerEntry(job.fileId);
    const { Body } = await s3().send(new GetObjectCommand({ Bucket: sweptBucket, Key: entry?.objectKey, VersionId: entry?.versionId }));
    assert.ok(Buffer.from(await Body!.transformToByteArray()).equals(content));
  });
});

describe('object store: a multi-GB file', { skip }, () => {
  const size = 5 * 1024 * MiB;
  let broker: ChannelModel;
  let publisher: AmqpPublisher;
  const exchange = `sluice-test-large-${randomBytes(4).toString('hex')}`;
  before(async () => {
    if (skip) return;
    broker = await connect(SHARED_AMQP_URL);
    publisher = new AmqpPublisher({ url: SHARED_AMQP_URL, exchange, routingKey: 'file.ingested', mandatory: true, declareExchange: true });
  });
  after(async () => {
    await publisher?.close();
    if (broker) {
      const channel = await broker.createChannel();
      // Best effort: the exchange is this test's own and auto-named.
      await channel.deleteExchange(exchange).catch(() => {});
      await broker.close();
    }
  });

  it('lands 5 GiB byte-exact with exactly one message, in flat memory', async (t) => {
    const { server, dir } = await fixture.serverFor();
    const path = join(fixture.sshd.root, dir, 'five-gib.bin');
    // Incompressible bytes at disk speed: AES-CTR over zeros (openssl ends on SIGPIPE when head has
    // enough, so the pipeline's status is sha256sum's; the size is checked below).
    const expected = execFileSync(
      'bash',
      ['-c', `openssl enc -aes-128-ctr -nosalt -pass pass:sluice -in /dev/zero 2>/dev/null | head -c ${size} | tee '${path}' | sha256sum`],
      { encoding: 'utf8', maxBuffer: 1024 },
    ).split(' ')[0];
    try {
      const job = await fixture.detected(server, dir, 'five-gib.bin');
      assert.equal(job.size, size);
      const config = environmentOf(fixture.container.config);
      const worker = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, '../../scripts/fixtures/transfer-worker.ts')], {
        env: { ...process.env, ...config, REPORT_RSS: '1', JOB: JSON.stringify(job) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let printed = '';
      worker.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      const [code] = (await once(worker, 'exit')) as [number | null];
      assert.equal(code, 0, printed);
      const report = JSON.parse(printed.trim().split('\n').at(-1)!) as { status: string; maxRssKiB: number };
      assert.equal(report.status, 'uploaded');
      // The benchmark measures the bundled function (docs/BENCHMARKS.md); here the bound only catches
      // memory that grows with the file (5 GiB through a buffer would need 5 GiB).
      assert.ok(report.maxRssKiB < 400 * 1024, `peak RSS ${Math.round(report.maxRssKiB / 1024)} MiB`);
      t.diagnostic(`transfer worker (unbundled, tsx) peak RSS ${Math.round(report.maxRssKiB / 1024)} MiB for 5 GiB`);

      const queue = await broker.createChannel();
      await queue.assertExchange(exchange, 'topic', { durable: true });
      const { queue: name } = await queue.assertQueue('', { exclusive: true });
      await queue.bindQueue(name, exchange, '#');
      const notifyDeps = { ...fixture.container.notifyDeps, publisher };
      for (const fileId of (await fixture.drain('notify')).filter((id) => id === job.fileId)) await notifyFile({ fileId }, notifyDeps);
      assert.equal((await notifyFile({ fileId: job.fileId }, notifyDeps)).status, 'already-notified', 'a repeated job publishes nothing');
      assert.equal((await queue.checkQueue(name)).messageCount, 1, 'exactly one message (every publish was confirmed)');
      const delivered = await queue.get(name, { noAck: true });
      assert.ok(delivered);
      const message = JSON.parse(delivered.content.toString()) as { sha256: string; key: string; versionId: string; size: number };
      assert.equal(message.sha256, expected);
      assert.equal(message.size, size);

      const { Body } = await s3().send(new GetObjectCommand({ Bucket: bucket(), Key: message.key, VersionId: message.versionId }));
      const digest = createHash('sha256');
      for await (const chunk of Body as AsyncIterable<Buffer>) digest.update(chunk);
      assert.equal(digest.digest('hex'), expected, 'the stored version reads back byte-exact');
      await s3().send(new DeleteObjectCommand({ Bucket: bucket(), Key: message.key, VersionId: message.versionId }));
    } finally {
      rmSync(path, { force: true });
    }
  });
});
