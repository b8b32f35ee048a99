import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileVersionId } from '../../lib/domain/file-identity';
import { SftpError } from '../../lib/errors';
import { pollServer } from '../../lib/use-cases/poll';
import { events, pollWorld, statsOf } from '../helpers/use-case-worlds';

type World = Awaited<ReturnType<typeof pollWorld>>;

/** Polls now, then again once the files listed have been stable for the server's stableAfterSeconds. */
async function pollUntilStable(world: World) {
  const first = await pollServer(world.tick(), world.deps);
  world.clock.advance(world.server.stableAfterSeconds);
  return { first, second: await pollServer(world.tick(), world.deps) };
}

describe('pollServer: polled', () => {
  it('takes a new file once it is stable: one ledger record, one transfer job, once', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/a.csv', 'id\n1\n');
    const fileId = fileVersionId('server-1', world.sftp.listed('/outbox/a.csv'));

    const { first, second } = await pollUntilStable(world);

    assert.deepEqual(first, { status: 'polled', listed: 1, enqueued: 0, waiting: 1 });
    assert.deepEqual(second, { status: 'polled', listed: 1, enqueued: 1, waiting: 0 });
    assert.deepEqual(world.transfers.messages.map(({ message }) => message), [{ fileId, serverId: 'server-1', remotePath: '/outbox/a.csv', size: 5, mtime: 1_700_000_000 }]);
    const version = world.ledger.versions.get(fileId)!;
    assert.deepEqual([version.status, version.relativePath, version.serverName, version.discoveredAt], ['pending', 'a.csv', 'acme', '2026-12-01T00:00:05.000Z']);
    assert.equal((await statsOf(world)).counts.pending, 1);
    assert.deepEqual(events(world.logger), ['host_key_recorded', 'poll_completed', 'file_detected', 'poll_completed']);
    const state = world.pollState.states.get('server-1')!;
    assert.deepEqual([state.lastError, state.consecutiveFailures, state.filesSeen, state.nextPollAt], [null, 0, 1, '2026-12-01T00:00:10.000Z']);
    assert.equal(world.pollState.leases.size, 0);
    assert.equal(world.slots.inUse('server-1'), 0);
    assert.equal(world.sftp.openSessions, 0);
  });

  it('enqueues nothing and writes no snapshot for an unchanged listing', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/a.csv', 'x');
    await pollUntilStable(world);
    world.clock.advance(60);

    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'polled', listed: 1, enqueued: 0, waiting: 0 });
    assert.equal(world.transfers.messages.length, 1);
    assert.deepEqual(world.pollState.outcomes.map((outcome) => outcome.snapshot), [true, true, false]);
  });

  it('keeps a growing file waiting and takes each stable version as its own', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/a.csv', 'x');
    await pollServer(world.tick(), world.deps);
    world.clock.advance(5);
    world.sftp.put('/outbox/a.csv', 'xy', 1_700_000_010);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'polled', listed: 1, enqueued: 0, waiting: 1 });
    world.clock.advance(5);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'polled', listed: 1, enqueued: 1, waiting: 0 });
    assert.deepEqual(world.transfers.messages.map(({ message }) => message.size), [2]);
  });

  it('re-enqueues a version a dead poll recorded but never enqueued, and not one already taken further', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/pending.csv', 'x');
    world.sftp.put('/outbox/done.csv', 'y');
    for (const [path, status] of [['/outbox/pending.csv', 'pending'], ['/outbox/done.csv', 'uploaded']] as const) {
      const listed = world.sftp.listed(path);
      const fileId = fileVersionId('server-1', listed);
      world.ledger.versions.set(fileId, { fileId, serverId: 'server-1', serverName: 'acme', remotePath: path, relativePath: path.slice(8), size: listed.size, mtime: listed.mtime, discoveredAt: '', status });
    }
    const { second } = await pollUntilStable(world);
    assert.deepEqual(second, { status: 'polled', listed: 2, enqueued: 1, waiting: 0 });
    assert.deepEqual(world.transfers.messages.map(({ message }) => message.remotePath), ['/outbox/pending.csv']);
    assert.deepEqual((await statsOf(world)).counts.pending, 0);
  });

  it('quarantines an unsafe name instead of enqueueing it', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/bad\u001b[2Jname.csv', 'x');
    const fileId = fileVersionId('server-1', world.sftp.listed('/outbox/bad\u001b[2Jname.csv'));

    const { second } = await pollUntilStable(world);

    assert.deepEqual(second, { status: 'polled', listed: 1, enqueued: 0, waiting: 0 });
    assert.deepEqual(world.transfers.messages, []);
    const version = world.ledger.versions.get(fileId)!;
    assert.equal(version.status, 'quarantined');
    assert.equal(version.lastError?.code, 'unsafe_name');
    assert.equal(version.remotePath.includes('\u001b'), false);
    assert.deepEqual(world.metrics.calls, [['fileFailed', 'unsafe_name', 'quarantined']]);
    const stats = await statsOf(world);
    assert.deepEqual([stats.counts.quarantined, stats.last24h.failures], [1, { unsafe_name: 1 }]);
    const logged = world.logger.lines.find((line) => line.event === 'file_quarantined')!;
    assert.deepEqual([logged.level, logged.fields.fileId], ['warn', fileId]);
    // Taken: the next poll neither quarantines it again nor counts it.
    world.clock.advance(60);
    await pollServer(world.tick(), world.deps);
    assert.equal(world.metrics.calls.length, 1);
  });

  it('tries a version whose ledger write failed again on the next poll', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/a.csv', 'x');
    const fileId = fileVersionId('server-1', world.sftp.listed('/outbox/a.csv'));
    world.ledger.failing.add(fileId);
    const { second } = await pollUntilStable(world);
    assert.deepEqual(second, { status: 'polled', listed: 1, enqueued: 0, waiting: 0 });
    assert.ok(events(world.logger, 'warn').includes('ledger_write_failed'));

    world.ledger.failing.clear();
    world.clock.advance(60);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'polled', listed: 1, enqueued: 1, waiting: 0 });
  });

  it('records the host key first presented and requires it from then on', async () => {
    const world = await pollWorld();
    await pollServer(world.tick(), world.deps);
    assert.equal(world.pollState.states.get('server-1')!.observedHostKey, world.sftp.hostKey);
    world.clock.advance(60);
    await pollServer(world.tick(), world.deps);
    assert.deepEqual(world.sftp.connects.map((connect) => connect.expectedHostKey), [undefined, world.sftp.hostKey]);

    world.sftp.hostKey = 'SHA256:anotheranotheranotheranotheranotheranother';
    world.clock.advance(60);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'host_key_mismatch', retryInSeconds: 1 });
  });
});

describe('pollServer: skipped', () => {
  it('skips a server that is unknown or inactive, without a lease', async () => {
    const world = await pollWorld({}, { active: false });
    assert.deepEqual(await pollServer({ serverId: 'nope', dueAt: world.clock.now().toISOString() }, world.deps), { status: 'skipped', reason: 'missing' });
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'skipped', reason: 'inactive' });
    assert.equal(world.pollState.states.size, 0);
    assert.equal(world.sftp.connects.length, 0);
  });

  it('skips a server another poller holds, and one backed off past this tick', async () => {
    const world = await pollWorld();
    world.pollState.leases.set('server-1', { owner: 'poller-2', until: world.clock.now().getTime() + 30_000 });
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'skipped', reason: 'busy' });
    assert.equal(world.pollState.leases.get('server-1')!.owner, 'poller-2');

    world.pollState.leases.clear();
    world.pollState.states.set('server-1', { serverId: 'server-1', consecutiveFailures: 3, nextPollAt: '2026-12-01T00:00:02.000Z' });
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'skipped', reason: 'not-due' });
    // Within a second of nextPollAt the tick is on time.
    world.clock.advance(1);
    assert.equal((await pollServer(world.tick(), world.deps)).status, 'polled');
    assert.equal(world.sftp.connects.length, 1);
  });

  it('skips, and frees its lease, when every connection slot of the server is held', async () => {
    const world = await pollWorld({}, { maxConnections: 1 });
    await world.slots.acquire('server-1', 1, 'worker-1', new Date(world.clock.now().getTime() + 60_000));
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'skipped', reason: 'no-connection-slot' });
    assert.equal(world.pollState.leases.size, 0);
    assert.deepEqual(events(world.logger), ['poll_skipped']);
    assert.equal(world.sftp.connects.length, 0);
  });
});

describe('pollServer: failed', () => {
  it('records a failure with a backoff that grows, a retry tick sooner than the interval, and resets on success', async () => {
    const world = await pollWorld();
    world.sftp.connectError = new SftpError('connect_failed', 'connect ECONNREFUSED 10.0.0.1:22');

    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'connect_failed', retryInSeconds: 1 });
    let state = world.pollState.states.get('server-1')!;
    assert.deepEqual(state.lastError, { code: 'connect_failed', message: 'connect ECONNREFUSED 10.0.0.1:22', at: '2026-12-01T00:00:00.000Z' });
    assert.deepEqual([state.consecutiveFailures, state.nextPollAt], [1, '2026-12-01T00:00:01.000Z']);
    assert.deepEqual(world.ticks.messages, [{ message: { serverId: 'server-1', dueAt: '2026-12-01T00:00:01.000Z' }, delaySeconds: 1 }]);
    assert.deepEqual(world.metrics.calls, [['pollFailed', 'connect_failed', 1]]);
    assert.equal(world.slots.inUse('server-1'), 0);

    world.clock.advance(1);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'connect_failed', retryInSeconds: 2 });
    assert.equal(world.pollState.states.get('server-1')!.consecutiveFailures, 2);

    world.sftp.connectError = undefined;
    world.clock.advance(2);
    assert.equal((await pollServer(world.tick(), world.deps)).status, 'polled');
    state = world.pollState.states.get('server-1')!;
    assert.deepEqual([state.lastError, state.consecutiveFailures, state.lastSuccessAt], [null, 0, '2026-12-01T00:00:03.000Z']);
  });

  it('sends no retry tick when the backoff is longer than the poll interval', async () => {
    const world = await pollWorld();
    world.pollState.states.set('server-1', { serverId: 'server-1', consecutiveFailures: 6 });
    world.sftp.connectError = new SftpError('timeout', 'no answer');
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'timeout', retryInSeconds: 64 });
    assert.deepEqual(world.ticks.messages, []);
  });

  it('records an unexpected error under a generic message, keeping its details in the log only', async () => {
    const world = await pollWorld();
    world.sftp.listError = new TypeError('cannot read properties of undefined (secret detail)');
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'internal', retryInSeconds: 1 });
    assert.equal(world.pollState.states.get('server-1')!.lastError?.message, 'unexpected error while polling (see the poller log)');
    assert.match(String(world.logger.lines.find((line) => line.event === 'poll_failed')!.fields.error), /secret detail/);
  });

  it('takes no file of a listing past its bounds', async () => {
    const world = await pollWorld({ listingBounds: { maxEntries: 1, maxDepth: 4, maxSeconds: 30 } });
    world.sftp.put('/outbox/a.csv', 'x');
    world.sftp.put('/outbox/b.csv', 'y');
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'failed', code: 'listing_too_large', retryInSeconds: 1 });
    assert.equal(world.ledger.versions.size, 0);
  });

  it('fails the poll when the transfer jobs cannot be enqueued, and enqueues them on the next', async () => {
    const world = await pollWorld();
    world.sftp.put('/outbox/a.csv', 'x');
    await pollServer(world.tick(), world.deps);
    world.clock.advance(5);
    const sendAll = world.transfers.sendAll.bind(world.transfers);
    world.transfers.sendAll = () => Promise.reject(new Error('SQS unavailable'));
    assert.equal((await pollServer(world.tick(), world.deps)).status, 'failed');
    assert.equal(world.ledger.versions.size, 1);

    world.transfers.sendAll = sendAll;
    world.clock.advance(60);
    assert.deepEqual(await pollServer(world.tick(), world.deps), { status: 'polled', listed: 1, enqueued: 1, waiting: 0 });
    assert.equal(world.transfers.messages.length, 1);
  });
});
