import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffSeconds } from '../../lib/domain/backoff';
import { fileVersionId, fingerprint } from '../../lib/domain/file-identity';
import { listingFilter } from '../../lib/domain/listing-filter';
import { decodeSnapshot, emptySnapshot, encodeSnapshot, SnapshotDiff } from '../../lib/domain/snapshot';
import { relativeTo } from '../../lib/domain/file-identity';

const file = (path: string, size = 10, mtime = 1000) => ({ path, size, mtime });

describe('file identity', () => {
  it('is stable for the same server, path, size and mtime, and changes with any of them', () => {
    const id = fileVersionId('s1', file('/a'));
    assert.equal(id, fileVersionId('s1', file('/a')));
    for (const other of [fileVersionId('s2', file('/a')), fileVersionId('s1', file('/b')), fileVersionId('s1', file('/a', 11)), fileVersionId('s1', file('/a', 10, 1001))]) {
      assert.notEqual(other, id);
    }
    assert.match(id, /^[0-9a-f]{32}$/);
  });
});

describe('SnapshotDiff', () => {
  it('takes a version only on its second sighting, and never again once taken', () => {
    const first = new SnapshotDiff(emptySnapshot(), 100, 0);
    assert.equal(first.observe(file('/a')).status, 'waiting');
    assert.ok(first.changed);
    const second = new SnapshotDiff(first.next(), 105, 0);
    const observation = second.observe(file('/a'));
    assert.equal(observation.status, 'ready');
    if (observation.status === 'ready') second.taken(observation.fingerprint);
    const third = new SnapshotDiff(second.next(), 110, 0);
    assert.equal(third.observe(file('/a')).status, 'unchanged');
    assert.equal(third.changed, false);
  });

  it('restarts the stability window when size or mtime changes', () => {
    const first = new SnapshotDiff(emptySnapshot(), 100, 0);
    first.observe(file('/a', 10));
    const second = new SnapshotDiff(first.next(), 105, 0);
    assert.equal(second.observe(file('/a', 20)).status, 'waiting');
  });

  it('honours stableAfterSeconds measured from the first sighting of this exact version', () => {
    const first = new SnapshotDiff(emptySnapshot(), 100, 30);
    first.observe(file('/a'));
    const early = new SnapshotDiff(first.next(), 120, 30);
    assert.equal(early.observe(file('/a')).status, 'waiting');
    const late = new SnapshotDiff(early.next(), 131, 30);
    assert.equal(late.observe(file('/a')).status, 'ready');
  });

  it('forgets files that vanished and reports the change', () => {
    const previous = { taken: new Set([fingerprint(file('/gone'))]), candidates: new Map() };
    const diff = new SnapshotDiff(previous, 100, 0);
    assert.equal(diff.next().taken.size, 0);
    assert.ok(diff.changed);
  });

  it('keeps a version it failed to take as a candidate', () => {
    const first = new SnapshotDiff(emptySnapshot(), 100, 0);
    first.observe(file('/a'));
    const second = new SnapshotDiff(first.next(), 105, 0);
    const observation = second.observe(file('/a'));
    assert.equal(observation.status, 'ready');
    if (observation.status === 'ready') second.retryLater(observation.fingerprint, observation.firstSeen);
    const third = new SnapshotDiff(second.next(), 110, 0);
    assert.equal(third.observe(file('/a')).status, 'ready');
  });

  it('round-trips through its 8/12-byte encoding', () => {
    const diff = new SnapshotDiff(emptySnapshot(), 100, 0);
    for (let index = 0; index < 1000; index++) diff.observe(file(`/f${index}`));
    const encoded = encodeSnapshot(diff.next());
    assert.equal(encoded.length, 8 + 1000 * 12);
    assert.deepEqual(decodeSnapshot(encoded), diff.next());
  });
});

describe('backoffSeconds', () => {
  it('doubles from one second up to the cap, jittered within ±20 %', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((failures) => backoffSeconds(failures, 300, () => 0.5)), [1, 2, 4, 8, 16]);
    assert.equal(backoffSeconds(20, 300, () => 0.5), 300);
    assert.equal(backoffSeconds(3, 300, () => 0), 3.2);
    assert.ok(backoffSeconds(30, 300, () => 0.999) <= 300);
  });
});

describe('listingFilter', () => {
  const filter = listingFilter('*.csv');
  it('matches base names at any depth and skips dot-files and temporary upload names', () => {
    assert.equal(filter.wantsFile('a.csv'), true);
    assert.equal(filter.wantsFile('deep/down/a.csv'), true);
    assert.equal(filter.wantsFile('.a.csv'), false);
    assert.equal(filter.wantsFile('a.csv.part'), false);
    assert.equal(listingFilter('*').wantsFile('upload.tmp'), false);
    assert.equal(listingFilter('*').wantsFile('report.filepart'), false);
    assert.equal(filter.wantsDirectory('.git'), false);
  });
  it('matches patterns with a slash against the relative path', () => {
    const nested = listingFilter('in/*.csv');
    assert.equal(nested.wantsFile('in/a.csv'), true);
    assert.equal(nested.wantsFile('out/a.csv'), false);
  });
  it('takes dot-files when the pattern names them', () => {
    assert.equal(listingFilter('.*').wantsFile('.env'), true);
  });
});

describe('relativeTo', () => {
  it('strips the remote directory', () => {
    assert.equal(relativeTo('/in', '/in/a/b.csv'), 'a/b.csv');
    assert.equal(relativeTo('/', '/a.csv'), 'a.csv');
  });
});
