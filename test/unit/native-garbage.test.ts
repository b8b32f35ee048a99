import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { YoungGarbageCollector } from '../../lib/adapters/native-garbage';

describe('YoungGarbageCollector', () => {
  it('collects the young generation every so many bytes read, and everything every 64th time', () => {
    const collections: string[] = [];
    const collector = new YoungGarbageCollector(1000, (options) => void collections.push(options?.type ?? 'major'));
    collector.account(999);
    assert.deepEqual(collections, [], 'not before the interval');
    collector.account(1);
    assert.deepEqual(collections, ['minor']);
    for (let chunk = 0; chunk < 63 * 4; chunk++) collector.account(250);
    assert.equal(collections.length, 64);
    assert.deepEqual([...new Set(collections.slice(0, 63))], ['minor']);
    assert.equal(collections[63], 'major');
  });

  it('does nothing when the runtime exposes no collector (no --expose-gc)', () => {
    assert.doesNotThrow(() => new YoungGarbageCollector(1, undefined).account(10));
  });
});
