import { batchOrder } from '../../lib/use-cases/transfer-batch';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { objectKey, partSizeFor } from '../../lib/domain/object-key';
import { HashStateError, UnsafeKeyError } from '../../lib/errors';
import { ResumableSha256 } from '../../lib/domain/sha256';

const MiB = 1024 * 1024;

describe('objectKey', () => {
  it('places the relative path under the prefix', () => {
    assert.equal(objectKey('acme', 'in/a b/ü.csv'), 'acme/in/a b/ü.csv');
  });
  for (const hostile of ['../x', 'a/../../b', './x', 'a//b', '/abs', 'a/', 'new\nline', 'tab\there', `${'x'.repeat(1100)}`]) {
    it(`refuses ${JSON.stringify(hostile.slice(0, 20))}`, () => {
      assert.throws(() => objectKey('acme', hostile), UnsafeKeyError);
    });
  }
});

describe('partSizeFor', () => {
  it('uses the minimum for ordinary files and grows to stay under 9,000 parts', () => {
    assert.equal(partSizeFor(100 * MiB, 8 * MiB, 512 * MiB), 8 * MiB);
    assert.equal(partSizeFor(4 * 1024 * MiB, 8 * MiB, 512 * MiB), 8 * MiB);
    const huge = 200 * 1024 * MiB;
    const size = partSizeFor(huge, 8 * MiB, 512 * MiB);
    assert.ok(Math.ceil(huge / size) <= 9000 && size % MiB === 0);
  });
  it('caps at the store\'s largest part while 10,000 parts still hold the file', () => {
    assert.equal(partSizeFor(95 * 1024 * MiB, 5 * MiB, 10 * MiB), 10 * MiB);
    assert.throws(() => partSizeFor(100 * 1024 * MiB, 5 * MiB, 10 * MiB), RangeError);
  });
});

describe('ResumableSha256', () => {
  it('matches node:crypto for lengths around the block boundaries', async () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65_537]) {
      const data = randomBytes(length);
      const hash = await ResumableSha256.create();
      assert.equal(hash.update(data).digest().toString('hex'), createHash('sha256').update(data).digest('hex'), String(length));
    }
  });
  it('continues from a saved state as if never interrupted, at any offset', async () => {
    const data = randomBytes(300_001);
    for (const cut of [0, 1, 64, 100, 150_000, 300_001]) {
      const first = (await ResumableSha256.create()).update(data.subarray(0, cut));
      const resumed = (await ResumableSha256.create(first.save())).update(data.subarray(cut));
      assert.equal(resumed.digest().toString('hex'), createHash('sha256').update(data).digest('hex'), String(cut));
    }
  });
  it('refuses a state it cannot continue rather than producing a wrong digest', async () => {
    await assert.rejects(ResumableSha256.create('w1:AAAA'), HashStateError);
    await assert.rejects(ResumableSha256.create('not-a-state'), HashStateError);
  });
});

describe('batchOrder', () => {
  const isLarge = (file: { size: number }) => file.size >= 100;
  it('runs the small files first, then one large file, and hands the other large ones on', () => {
    const files = [{ id: 'L1', size: 500 }, { id: 's1', size: 1 }, { id: 'L2', size: 100 }, { id: 's2', size: 99 }, { id: 'L3', size: 900 }];
    const { run, handOn } = batchOrder(files, isLarge);
    assert.deepEqual(run.map((file) => file.id), ['s1', 's2', 'L1']);
    assert.deepEqual(handOn.map((file) => file.id), ['L2', 'L3']);
  });

  it('keeps a batch of small files as it is, and hands nothing on for one large file', () => {
    assert.deepEqual(batchOrder([{ size: 1 }, { size: 2 }], isLarge), { run: [{ size: 1 }, { size: 2 }], handOn: [] });
    assert.deepEqual(batchOrder([{ size: 500 }], isLarge), { run: [{ size: 500 }], handOn: [] });
  });
});
