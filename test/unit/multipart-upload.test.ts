import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ResumableSha256 } from '../../lib/domain/sha256';
import { StoreError } from '../../lib/errors';
import { CHECKSUM_SEND_ATTEMPTS } from '../../lib/use-cases/multipart-upload';
import { transferFile } from '../../lib/use-cases/transfer';
import { events, PART, transferWorld } from '../helpers/use-case-worlds';

type World = Awaited<ReturnType<typeof transferWorld>>;

const hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const partsSent = (world: World) => world.store.calls.filter((call) => call.operation === 'uploadPart').map((call) => call.partNumber);
const metadata = { fileId: 'f', sourcePath: '/outbox/big.bin', sourceMtime: '2026-01-01T00:00:00.000Z', serverName: 'acme' };

/**
 * A worker that died mid-upload: the store holds `stored` parts of `data`, the ledger checkpointed
 * the first `checkpointed` of them, and its lease has lapsed. The store's calls so far are forgotten.
 */
async function crashedUpload(world: World, data: Buffer, checkpointed: number, stored: number) {
  const job = world.detect('big.bin', data, { status: 'transferring', attempts: 1, leaseOwner: 'dead-worker', leaseUntil: world.clock.now().getTime() - 1 });
  const uploadId = await world.store.createMultipartUpload('acme/big.bin', metadata);
  const parts = [];
  for (let number = 1; number <= stored; number++) {
    const body = data.subarray((number - 1) * PART, number * PART);
    const checksumSha256 = createHash('sha256').update(body).digest('base64');
    parts.push({ partNumber: number, etag: await world.store.uploadPart('acme/big.bin', uploadId, number, body, checksumSha256), checksumSha256 });
  }
  world.ledger.parts.set(`${job.fileId}#${uploadId}`, new Map(parts.slice(0, checkpointed).map((part) => [part.partNumber, part])));
  const hashState = (await ResumableSha256.create()).update(data.subarray(0, checkpointed * PART)).save();
  world.ledger.entries.get(job.fileId)!.upload = { uploadId, key: 'acme/big.bin', partSize: PART, uploadedBytes: checkpointed * PART, hashState, partCount: checkpointed };
  world.store.calls.length = 0;
  return { job, uploadId };
}

describe('the part pipeline: checksums', () => {
  it('sends a part again when the store refuses it as corrupted, and completes the file', async () => {
    const world = await transferWorld();
    const data = randomBytes(2 * PART + 7);
    const job = world.detect('big.bin', data);
    world.store.refuseChecksums = 1;

    const outcome = await transferFile(job, world.deps);

    assert.deepEqual(outcome, { status: 'uploaded', key: 'acme/big.bin', sha256: hex(data), bytesRead: data.length });
    assert.deepEqual(partsSent(world), [1, 1, 2, 3]);
    const refused = world.logger.lines.filter((line) => line.event === 'checksum_refused');
    assert.deepEqual(refused.map((line) => [line.fields.partNumber, line.fields.attempt]), [[1, 1]]);
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
  });

  it('sends a whole small file again when its PUT is refused as corrupted', async () => {
    const world = await transferWorld();
    const job = world.detect('a.csv', 'small');
    world.store.refuseChecksums = 2;
    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.equal(world.store.count('putObject'), 3);
    assert.deepEqual(events(world.logger, 'warn'), ['checksum_refused', 'checksum_refused']);
  });

  it(`gives the attempt up after ${CHECKSUM_SEND_ATTEMPTS} refused sends of one part, to retry later from the checkpoint`, async () => {
    const world = await transferWorld();
    const job = world.detect('big.bin', randomBytes(3 * PART));
    world.store.refuseChecksums = CHECKSUM_SEND_ATTEMPTS;

    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'checksum_mismatch', delaySeconds: 1 });
    assert.deepEqual(partsSent(world).slice(0, CHECKSUM_SEND_ATTEMPTS), Array(CHECKSUM_SEND_ATTEMPTS).fill(1));
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.upload?.uploadId], ['failed', 'upload-1']);
    assert.equal(world.store.objects.size, 0);
  });
});

describe('the part pipeline: resume', () => {
  it('does not send again the parts the store holds past the checkpoint, yet digests every byte', async () => {
    const world = await transferWorld();
    const data = randomBytes(4 * PART + 3);
    const { job, uploadId } = await crashedUpload(world, data, 1, 3);

    const outcome = await transferFile(job, world.deps);

    assert.deepEqual(outcome, { status: 'uploaded', key: 'acme/big.bin', sha256: hex(data), bytesRead: data.length });
    assert.deepEqual(partsSent(world), [4, 5]);
    assert.deepEqual(world.logger.lines.filter((line) => line.event === 'part_already_stored').map((line) => line.fields.partNumber), [2, 3]);
    const resumed = world.logger.lines.find((line) => line.event === 'transfer_resumed')!;
    assert.deepEqual([resumed.fields.fromByte, resumed.fields.parts, resumed.fields.storedAhead], [PART, 1, 2]);
    assert.deepEqual(world.sftp.reads, [{ path: job.remotePath, start: PART, end: data.length }]);
    assert.equal(world.store.count('createMultipartUpload'), 0);
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
    assert.equal(world.store.uploads.has(uploadId), false);
    assert.equal(world.ledger.entries.get(job.fileId)!.attempts, 2);
  });

  it('resumes on the checkpoint alone where the store cannot list parts', async () => {
    const world = await transferWorld();
    const data = randomBytes(3 * PART);
    const { job } = await crashedUpload(world, data, 1, 2);
    world.store.listsParts = false;

    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.deepEqual(partsSent(world), [2, 3]);
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
  });

  for (const [contradiction, spoil] of [
    ['a checkpointed part the store does not hold', (world: World, uploadId: string) => void world.store.uploads.get(uploadId)!.parts.delete(1)],
    ['an upload the store no longer has', (world: World, uploadId: string) => void world.store.uploads.delete(uploadId)],
    ['a digest state this build cannot restore', (world: World) => void (world.ledger.entries.get([...world.ledger.entries.keys()][0]!)!.upload!.hashState = 'w1:AAAA')],
  ] as const) {
    it(`starts the file over on ${contradiction}, aborting the old upload`, async () => {
      const world = await transferWorld();
      const data = randomBytes(2 * PART + 1);
      const { job, uploadId } = await crashedUpload(world, data, 1, 1);
      spoil(world, uploadId);

      assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
      assert.deepEqual(events(world.logger, 'warn'), ['transfer_restarted']);
      assert.deepEqual(world.store.aborted, [uploadId]);
      assert.deepEqual(partsSent(world), [1, 2, 3]);
      assert.deepEqual(world.sftp.reads, [{ path: job.remotePath, start: 0, end: data.length }]);
      assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
    });
  }

  it('forgets an upload aborted under it (the orphan sweep) so the next attempt starts a new one', async () => {
    const world = await transferWorld();
    const job = world.detect('big.bin', randomBytes(3 * PART));
    world.sftp.onChunk = (_path, served) => {
      if (served === PART + PART / 4) world.store.uploads.clear();
    };
    assert.deepEqual(await transferFile(job, world.deps), { status: 'retry', code: 'upload_lost', delaySeconds: 1 });
    const entry = world.ledger.entries.get(job.fileId)!;
    assert.deepEqual([entry.status, entry.upload], ['failed', undefined]);

    world.sftp.onChunk = undefined;
    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.equal(world.store.count('createMultipartUpload'), 2);
  });
});

describe('the part pipeline: checkpoints', () => {
  it('writes no checkpoint past a part still uploading, then one over the whole contiguous prefix', async () => {
    const world = await transferWorld();
    const data = randomBytes(4 * PART);
    const job = world.detect('big.bin', data);
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const uploadPart = world.store.uploadPart.bind(world.store);
    world.store.uploadPart = async (key, uploadId, partNumber, body, checksum) => {
      if (partNumber === 1) await firstHeld;
      const etag = await uploadPart(key, uploadId, partNumber, body, checksum);
      // Part 1 is let through only once the rest of the pipeline had its turn (parts 2-4 done).
      if (partNumber === 2) setImmediate(releaseFirst);
      return etag;
    };

    assert.equal((await transferFile(job, world.deps)).status, 'uploaded');
    assert.deepEqual(partsSent(world), [2, 3, 4, 1]);
    assert.deepEqual(world.ledger.checkpoints, [{ fileId: job.fileId, uploadedBytes: 4 * PART, partCount: 4, parts: [1, 2, 3, 4] }]);
    assert.deepEqual(world.store.objects.get('acme/big.bin')!.body, data);
  });
});
