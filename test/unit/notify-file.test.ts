import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, NotFoundError, SecretInvalidError, ServiceUnavailableError } from '../../lib/errors';
import { ingestedMessage, notifyFile, renotifyFile } from '../../lib/use-cases/notify';
import { uploadedVersion } from '../helpers/fakes-notify';
import { events, notifyWorld, statsOf } from '../helpers/use-case-worlds';

const FILE = '0123456789abcdef0123456789abcdef';

function worldWith(overrides: Parameters<typeof uploadedVersion>[1] = {}) {
  const world = notifyWorld();
  world.ledger.put(uploadedVersion(FILE, overrides));
  // As the transfer counted it.
  world.stats.transition('server-1', undefined, 'uploaded');
  return world;
}

describe('notifyFile: notified', () => {
  it('publishes the announcement, then records it notified with its detect-to-notify latency', async () => {
    const world = worldWith();
    const outcome = await notifyFile({ fileId: FILE }, world.deps);

    const message = ingestedMessage(uploadedVersion(FILE));
    assert.deepEqual(outcome, { status: 'notified', message });
    assert.deepEqual(world.publisher.published, [message]);
    assert.deepEqual(message, {
      fileId: FILE,
      serverId: 'server-1',
      serverName: 'acme',
      remotePath: '/outbox/a.csv',
      size: 12,
      mtime: '2026-11-30T23:00:00.000Z',
      sha256: 'ab'.repeat(32),
      bucket: 'test-bucket',
      key: 'acme/a.csv',
      etag: '"etag-1"',
      versionId: 'v1',
      ingestedAt: '2026-12-01T00:00:30.000Z',
    });
    const version = (await world.ledger.get(FILE))!;
    assert.deepEqual([version.status, version.notifiedAt], ['notified', '2026-12-01T00:01:00.000Z']);
    assert.equal(world.ledger.leases.has(FILE), false);
    // Detected at 00:00:00, confirmed at 00:01:00 by the clock.
    assert.deepEqual(world.metrics.calls, [['fileNotified', 60]]);
    const stats = await statsOf(world);
    assert.deepEqual([stats.counts.uploaded, stats.counts.notified, stats.detectToNotify.count, stats.detectToNotify.sum], [0, 1, 1, 60]);
    assert.deepEqual(world.logger.lines.map((line) => [line.event, line.fields.again]), [['file_notified', false]]);
  });

  it('announces a notified version again only when asked, without counting it as a new ingest', async () => {
    const world = worldWith({ status: 'notified', notifiedAt: '2026-12-01T00:00:40.000Z' });

    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'already-notified' });
    assert.deepEqual(world.publisher.published, []);

    const again = await notifyFile({ fileId: FILE }, world.deps, { again: true });
    assert.equal(again.status, 'notified');
    assert.equal(world.publisher.published.length, 1);
    assert.equal((await world.ledger.get(FILE))!.notifiedAt, '2026-12-01T00:00:40.000Z');
    assert.deepEqual(world.metrics.calls, []);
    assert.equal((await statsOf(world)).detectToNotify.count, 0);
    assert.equal(world.logger.lines[0]!.fields.again, true);
  });
});

describe('notifyFile: not announced', () => {
  it('is busy while another notifier holds the version, and announces it once that lease lapsed', async () => {
    const world = worldWith();
    world.ledger.leases.set(FILE, world.clock.now().getTime() + 30_000);
    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'busy' });
    assert.deepEqual(world.publisher.published, []);

    world.clock.advance(31);
    assert.equal((await notifyFile({ fileId: FILE }, world.deps)).status, 'notified');
  });

  it('is missing for an unknown version and not-uploaded for one without an object yet', async () => {
    const world = worldWith({ status: 'transferring', key: null });
    assert.deepEqual(await notifyFile({ fileId: 'f'.repeat(32) }, world.deps), { status: 'missing' });
    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'not-uploaded' });
    assert.deepEqual(world.publisher.published, []);
    assert.deepEqual(world.logger.lines, []);
  });
});

describe('notifyFile: retry and parked', () => {
  it('retries a broker outage with a growing backoff, never parking it', async () => {
    const world = worldWith();
    world.publisher.failures.push('broker_unavailable', 'broker_unavailable', 'broker_unavailable', 'timeout', 'nacked');
    const delays = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const outcome = await notifyFile({ fileId: FILE }, world.deps);
      assert.equal(outcome.status, 'retry');
      if (outcome.status === 'retry') delays.push(outcome.delaySeconds);
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 16]);
    const version = (await world.ledger.get(FILE))!;
    assert.deepEqual([version.status, version.notifyAttempts, version.notifyParked, version.lastError?.code], ['uploaded', 5, false, 'nacked']);
    // Each failure released the claim: the next delivery could take it at once.
    assert.equal(world.ledger.leases.has(FILE), false);
    assert.deepEqual(events(world.logger, 'warn'), Array(5).fill('notification_failed'));
    assert.deepEqual(world.metrics.calls, []);

    assert.equal((await notifyFile({ fileId: FILE }, world.deps)).status, 'notified');
    assert.deepEqual([(await world.ledger.get(FILE))!.notifyAttempts, (await world.ledger.get(FILE))!.lastError], [0, null]);
  });

  it('parks a message the broker keeps refusing after maxRejections, for an operator', async () => {
    const world = worldWith();
    world.publisher.failures.push('unroutable', 'unroutable', 'unroutable');

    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'retry', code: 'unroutable', delaySeconds: 1 });
    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'retry', code: 'unroutable', delaySeconds: 2 });
    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'parked', code: 'unroutable', message: 'the broker did not take the message (unroutable)' });

    assert.deepEqual([...world.ledger.parked], [FILE]);
    assert.equal((await world.ledger.get(FILE))!.notifyParked, true);
    assert.deepEqual(world.metrics.calls, [['notificationParked', 'unroutable']]);
    assert.deepEqual(events(world.logger, 'error'), ['notification_rejected', 'notification_rejected', 'notification_parked']);
  });

  it('records an unexpected error under a generic message, and an invalid broker secret as it is, both retried', async () => {
    const world = worldWith();
    world.publisher.failures.push(new Error('connect ECONNREFUSED amqp://user:pw@10.0.0.5'), new SecretInvalidError('sluice/broker', 'is not a broker URL'));

    assert.deepEqual(await notifyFile({ fileId: FILE }, world.deps), { status: 'retry', code: 'publish_failed', delaySeconds: 1 });
    assert.deepEqual((await world.ledger.get(FILE))!.lastError, { code: 'publish_failed', message: 'unexpected error while publishing (see the notifier log)', at: '2026-12-01T00:01:00.000Z' });
    assert.match(String(world.logger.lines[0]!.fields.error), /ECONNREFUSED/);

    for (let attempt = 0; attempt < 3; attempt++) world.publisher.failures.push(new SecretInvalidError('sluice/broker', 'is not a broker URL'));
    for (let attempt = 0; attempt < 4; attempt++) assert.equal((await notifyFile({ fileId: FILE }, world.deps)).status, 'retry');
    assert.equal((await world.ledger.get(FILE))!.lastError?.message, 'secret sluice/broker is not a broker URL');
    assert.deepEqual(world.ledger.parked.size, 0);
  });
});

describe('renotifyFile', () => {
  it('maps the outcomes to the API: 404 unknown, 409 not uploaded or busy, 503 refused, else the view', async () => {
    const world = worldWith({ status: 'notified', notifiedAt: '2026-12-01T00:00:40.000Z' });
    await assert.rejects(renotifyFile('f'.repeat(32), world.deps), NotFoundError);

    world.publisher.failures.push('broker_unavailable');
    await assert.rejects(renotifyFile(FILE, world.deps), ServiceUnavailableError);

    world.ledger.leases.set(FILE, world.clock.now().getTime() + 30_000);
    await assert.rejects(renotifyFile(FILE, world.deps), ConflictError);
    world.ledger.leases.clear();

    const view = await renotifyFile(FILE, world.deps);
    assert.equal(view.status, 'notified');
    assert.equal(world.publisher.published.length, 1);

    world.ledger.put(uploadedVersion('e'.repeat(32), { status: 'failed' }));
    await assert.rejects(renotifyFile('e'.repeat(32), world.deps), (error: unknown) => error instanceof ConflictError && error.field === 'status');
  });
});
