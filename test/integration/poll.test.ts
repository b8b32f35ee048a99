import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../lib/container';
import type { PollTick, TransferJob } from '../../lib/ports';
import { pollServer, type PollDeps } from '../../lib/use-cases/poll';
import { createServer, getServer, updateServer } from '../../lib/use-cases/servers';
import { CreateServerInput, UpdateServerInput } from '../../lib/domain/server';
import { countRequests, drainJobs, isolatedContainer, total } from '../../scripts/fixtures/resources';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';
import { startTcpProxy } from '../../scripts/fixtures/tcp-proxy';

/** A clock the test moves forward, so stability windows and backoff need no real waiting. */
class TestClock {
  private offsetMs = 0;
  now = () => new Date(Date.now() + this.offsetMs);
  advance(seconds: number) {
    this.offsetMs += seconds * 1000;
  }
}

let sshd: Sshd;
let container: Container;
let transferQueueUrl: string;
let clock: TestClock;
let deps: PollDeps;
let counter = 0;

before(async () => {
  sshd = await startSshd();
  const isolated = await isolatedContainer();
  container = isolated.container;
  transferQueueUrl = Object.entries(isolated.queueUrls).find(([name]) => name === `${isolated.prefix}-transfer`)![1];
  clock = new TestClock();
  deps = { ...container.pollDeps, clock, random: () => 0.5 };
});
after(async () => {
  await sshd.dispose();
});

async function register(fields: Record<string, unknown> = {}) {
  const dir = `/case-${++counter}`;
  mkdirSync(join(sshd.root, dir), { recursive: true, mode: 0o755 });
  const server = await createServer(
    CreateServerInput.parse({
      name: `poll-${process.pid}-${counter}`,
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      password: sshd.password,
      remoteDir: `${sshd.root}${dir}`,
      stableAfterSeconds: 0,
      ...fields,
    }),
    { ...container.serverDeps, clock },
  );
  return { server, dir };
}

async function poll(serverId: string, pollDeps: PollDeps = deps, advanceSeconds = 5) {
  clock.advance(advanceSeconds);
  return pollServer({ serverId, dueAt: clock.now().toISOString() }, pollDeps);
}

/** Everything enqueued for transfer since the last call. */
const drainTransfers = () => drainJobs<TransferJob>(container.clients.sqs, transferQueueUrl);

const names = (jobs: TransferJob[], root: string) => jobs.map((job) => job.remotePath.slice(root.length + 1)).sort();

describe('poller: detection', () => {
  it('enqueues new files once, nothing for an unchanged re-poll, and a changed file as a new version', async () => {
    const { server, dir } = await register();
    const root = `${sshd.root}${dir}`;
    writeRemoteFile(sshd, `${dir}/a.csv`, 'alpha', 1_700_000_000);
    writeRemoteFile(sshd, `${dir}/b.csv`, 'bravo', 1_700_000_000);
    await drainTransfers();

    assert.equal((await poll(server.id)).status, 'polled');
    assert.deepEqual(await drainTransfers(), [], 'first sighting only starts the stability check');
    await poll(server.id);
    const first = await drainTransfers();
    assert.deepEqual(names(first, root), ['a.csv', 'b.csv']);
    assert.equal(first.find((job) => job.remotePath.endsWith('a.csv'))!.size, 5);

    for (let index = 0; index < 3; index++) await poll(server.id);
    assert.deepEqual(await drainTransfers(), [], 'unchanged files are never enqueued again');

    writeRemoteFile(sshd, `${dir}/a.csv`, 'alpha, changed', 1_700_000_100);
    await poll(server.id);
    await poll(server.id);
    const changed = await drainTransfers();
    assert.deepEqual(names(changed, root), ['a.csv']);
    assert.notEqual(changed[0]!.fileId, first.find((job) => job.remotePath.endsWith('a.csv'))!.fileId, 'a new version has a new id');
    assert.equal(changed[0]!.size, 14);

    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.consecutiveFailures, 0);
    assert.equal(view.lastError, null);
    assert.ok(view.lastPollAt && view.nextPollAt && view.nextPollAt > view.lastPollAt);
  });

  it('takes a file written slowly over several polls once, only after it stops changing, even with a preserved mtime', async () => {
    const { server, dir } = await register();
    writeRemoteFile(sshd, `${dir}/growing.bin`, 'x'.repeat(100), 1_600_000_000);
    await drainTransfers();
    for (let step = 1; step <= 4; step++) {
      await poll(server.id);
      writeRemoteFile(sshd, `${dir}/growing.bin`, 'x'.repeat(100 * (step + 1)), 1_600_000_000); // uploader keeps the old mtime
      assert.deepEqual(await drainTransfers(), [], `not taken while growing (step ${step})`);
    }
    await poll(server.id);
    await poll(server.id);
    const jobs = await drainTransfers();
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.size, 500, 'the complete file, not a truncated one');
    await poll(server.id);
    assert.deepEqual(await drainTransfers(), []);
  });

  it('waits stableAfterSeconds of unchanged size and mtime before taking a file', async () => {
    const { server, dir } = await register({ stableAfterSeconds: 12 });
    writeRemoteFile(sshd, `${dir}/slow.csv`, 'data', 1_700_000_000);
    await drainTransfers();
    await poll(server.id); // t = 0: first seen
    await poll(server.id); // t = 5
    await poll(server.id); // t = 10
    assert.deepEqual(await drainTransfers(), []);
    await poll(server.id); // t = 15 >= 12
    assert.equal((await drainTransfers()).length, 1);
  });

  it('lets only one of two simultaneous pollers list a server, and enqueues each file once', async () => {
    const { server, dir } = await register();
    for (let index = 0; index < 20; index++) writeRemoteFile(sshd, `${dir}/f${index}.csv`, `file ${index}`, 1_700_000_000);
    await drainTransfers();
    const other: PollDeps = { ...deps, instanceId: 'second-instance' };
    clock.advance(5);
    const tick: PollTick = { serverId: server.id, dueAt: clock.now().toISOString() };
    const results = await Promise.all([pollServer(tick, deps), pollServer(tick, other)]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['polled', 'skipped']);
    assert.ok(results.some((result) => result.status === 'skipped' && result.reason === 'busy'));
    clock.advance(5);
    const again: PollTick = { serverId: server.id, dueAt: clock.now().toISOString() };
    await Promise.all([pollServer(again, deps), pollServer(again, other)]);
    clock.advance(5);
    const third: PollTick = { serverId: server.id, dueAt: clock.now().toISOString() };
    await Promise.all([pollServer(third, deps), pollServer(third, other)]);
    const jobs = await drainTransfers();
    assert.equal(jobs.length, 20);
    assert.equal(new Set(jobs.map((job) => job.fileId)).size, 20, 'no duplicates');
  });
});

describe('poller: connection cap', () => {
  it('skips a poll while all of the server\'s connection slots are held elsewhere in the fleet', async () => {
    const { server, dir } = await register({ maxConnections: 1 });
    writeRemoteFile(sshd, `${dir}/capped.csv`, 'x', 1_700_000_000);
    const until = new Date(Date.now() + 60_000);
    const slot = await container.pollDeps.slots.acquire(server.id, 1, 'a-transfer-elsewhere', until);
    assert.ok(slot !== undefined);
    assert.deepEqual(await poll(server.id), { status: 'skipped', reason: 'no-connection-slot' });
    assert.equal(await container.pollDeps.slots.acquire(server.id, 1, 'yet-another', until), undefined, 'the cap holds');
    await container.pollDeps.slots.release(server.id, slot, 'a-transfer-elsewhere');
    assert.equal((await poll(server.id)).status, 'polled');
  });

  it('hangs up once the listing is complete: the versions are taken while the slot is free for transfers', async () => {
    const { server, dir } = await register({ maxConnections: 1 });
    for (let index = 0; index < 3; index++) writeRemoteFile(sshd, `${dir}/taken-${index}.csv`, 'x', 1_700_000_000);
    await drainTransfers();
    const until = () => new Date(Date.now() + 60_000);
    // The real ledger, asked at each take whether a transfer could have the server's only slot now.
    const slotFreeAtTake: boolean[] = [];
    let probes = Promise.resolve();
    const real = container.pollDeps.ledger;
    const ledger: PollDeps['ledger'] = {
      createQuarantined: (file, error) => real.createQuarantined(file, error),
      createIfAbsent: async (file) => {
        // One probe at a time (the poll takes versions concurrently): each asks for the slot alone.
        probes = probes.then(async () => {
          const slot = await container.pollDeps.slots.acquire(server.id, 1, 'a-transfer', until());
          slotFreeAtTake.push(slot !== undefined);
          if (slot !== undefined) await container.pollDeps.slots.release(server.id, slot, 'a-transfer');
        });
        await probes;
        return real.createIfAbsent(file);
      },
    };
    await poll(server.id, { ...deps, ledger });
    assert.equal((await poll(server.id, { ...deps, ledger })).status, 'polled');
    assert.deepEqual(slotFreeAtTake, [true, true, true], 'no take ran while the poll held the connection');
    assert.equal((await drainTransfers()).length, 3);
  });
});

describe('poller: listing rules', () => {
  it('honours pattern, recursion, dot-files, temporary names, links, spaces and non-ASCII names', async () => {
    const { server, dir } = await register({ pattern: '*.csv', recursive: true });
    const root = `${sshd.root}${dir}`;
    for (const name of ['a.csv', 'b.txt', '.hidden.csv', 'upload.csv.part', 'x.tmp', 'with space.csv', 'ünïcödé €.csv', 'sub/c.csv', 'sub/deeper/d.csv', '.dotdir/e.csv', 'other.csv.filepart']) {
      writeRemoteFile(sshd, `${dir}/${name}`, name, 1_700_000_000);
    }
    symlinkSync(join(root, 'a.csv'), join(root, 'link-to-file.csv'));
    symlinkSync(join(root, 'sub'), join(root, 'link-to-dir.csv'));
    await drainTransfers();
    await poll(server.id);
    await poll(server.id);
    assert.deepEqual(names(await drainTransfers(), root), [
      'a.csv',
      'link-to-file.csv',
      'sub/c.csv',
      'sub/deeper/d.csv',
      'with space.csv',
      'ünïcödé €.csv',
    ]);

    const flat = await register({ pattern: '*.csv', recursive: false });
    const flatRoot = `${sshd.root}${flat.dir}`;
    for (const name of ['top.csv', 'nested/n.csv']) writeRemoteFile(sshd, `${flat.dir}/${name}`, name, 1_700_000_000);
    await poll(flat.server.id);
    await poll(flat.server.id);
    assert.deepEqual(names(await drainTransfers(), flatRoot), ['top.csv']);

    const dotted = await register({ pattern: '.*' });
    const dottedRoot = `${sshd.root}${dotted.dir}`;
    for (const name of ['.env', 'visible']) writeRemoteFile(sshd, `${dotted.dir}/${name}`, name, 1_700_000_000);
    await poll(dotted.server.id);
    await poll(dotted.server.id);
    assert.deepEqual(names(await drainTransfers(), dottedRoot), ['.env'], 'a pattern naming dot-files takes them');
  });

  it('authenticates with a private key as well as a password', async () => {
    const { server, dir } = await register({ password: undefined, privateKey: sshd.privateKey });
    writeRemoteFile(sshd, `${dir}/k.csv`, 'key auth', 1_700_000_000);
    await drainTransfers();
    await poll(server.id);
    assert.equal((await poll(server.id)).status, 'polled');
    assert.equal((await drainTransfers()).length, 1);
  });

  it('records a refused password as auth_failed without leaking it', async () => {
    const { server } = await register({ password: 'definitely-wrong-password' });
    const result = await poll(server.id);
    assert.equal(result.status, 'failed');
    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.lastError?.code, 'auth_failed');
    assert.doesNotMatch(JSON.stringify(view), /definitely-wrong-password/);
  });
});

describe('poller: host keys', () => {
  it('refuses a server whose key differs from the pinned hostKey', async () => {
    const { server, dir } = await register({ hostKey: `SHA256:${'A'.repeat(43)}` });
    writeRemoteFile(sshd, `${dir}/never.csv`, 'x', 1_700_000_000);
    await drainTransfers();
    const result = await poll(server.id);
    assert.equal(result.status, 'failed');
    assert.equal(result.status === 'failed' && result.code, 'host_key_mismatch');
    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.lastError?.code, 'host_key_mismatch');
    assert.match(view.lastError!.message, new RegExp(sshd.hostKey.replace(/[+/]/g, '\\$&')));
    assert.deepEqual(await drainTransfers(), []);

    const pinned = await updateServer(server.id, UpdateServerInput.parse({ hostKey: sshd.hostKey }), container.serverDeps);
    assert.equal(pinned.hostKey, sshd.hostKey);
    clock.advance(600);
    assert.equal((await poll(server.id)).status, 'polled', 'the right pinned key is accepted');
  });

  it('records the first key seen and refuses a later different key at the same address until an operator pins it', async () => {
    // The server's address is a proxy: first to sshd, then to an impostor with another host key.
    const address = await startTcpProxy(sshd.port);
    const impostor = await startSshd();
    try {
      const { server, dir } = await register({ port: address.port });
      await poll(server.id);
      assert.equal((await getServer(server.id, container.serverDeps)).observedHostKey, sshd.hostKey);

      address.retarget(impostor.port);
      writeRemoteFile(impostor, `${dir}/stolen.csv`, 'x', 1_700_000_000);
      await updateServer(server.id, UpdateServerInput.parse({ remoteDir: `${impostor.root}${dir}` }), container.serverDeps);
      await drainTransfers();
      const result = await poll(server.id);
      assert.equal(result.status === 'failed' && result.code, 'host_key_mismatch');
      assert.deepEqual(await drainTransfers(), []);
      await updateServer(server.id, UpdateServerInput.parse({ hostKey: impostor.hostKey }), container.serverDeps);
      clock.advance(600);
      assert.equal((await poll(server.id)).status, 'polled');
    } finally {
      await address.close();
      await impostor.dispose();
    }
  });

  it('starts over with the first key seen after a move to another port (with new credentials)', async () => {
    const impostor = await startSshd();
    try {
      const { server, dir } = await register();
      await poll(server.id);
      assert.equal((await getServer(server.id, container.serverDeps)).observedHostKey, sshd.hostKey);
      writeRemoteFile(impostor, `${dir}/moved.csv`, 'x', 1_700_000_000);
      const moved = await updateServer(server.id, UpdateServerInput.parse({ port: impostor.port, password: impostor.password, remoteDir: `${impostor.root}${dir}` }), container.serverDeps);
      assert.equal(moved.observedHostKey, null, 'the old address\'s key is forgotten');
      clock.advance(600);
      assert.equal((await poll(server.id)).status, 'polled');
      assert.equal((await getServer(server.id, container.serverDeps)).observedHostKey, impostor.hostKey);
    } finally {
      await impostor.dispose();
    }
  });
});

describe('poller: failures', () => {
  it('backs off while sshd is down, then resumes and finds what arrived meanwhile', async () => {
    const { server, dir } = await register({ pollIntervalSeconds: 60 });
    writeRemoteFile(sshd, `${dir}/before.csv`, 'before', 1_700_000_000);
    await poll(server.id, deps, 60);
    await poll(server.id, deps, 60);
    assert.equal((await drainTransfers()).length, 1);
    await sshd.stop();
    const delays: number[] = [];
    try {
      for (let attempt = 1; attempt <= 4; attempt++) {
        clock.advance(600);
        const result = await pollServer({ serverId: server.id, dueAt: clock.now().toISOString() }, deps);
        assert.equal(result.status, 'failed');
        const view = await getServer(server.id, container.serverDeps);
        assert.equal(view.consecutiveFailures, attempt);
        assert.equal(view.lastError?.code, 'connect_failed');
        delays.push(Date.parse(view.nextPollAt!) - Date.parse(view.lastPollAt!));
      }
      writeRemoteFile(sshd, `${dir}/during.csv`, 'during', 1_700_000_000);
      clock.advance(1);
      const early = await pollServer({ serverId: server.id, dueAt: clock.now().toISOString() }, deps);
      assert.deepEqual(early, { status: 'skipped', reason: 'not-due' }, 'a tick before nextPollAt is skipped');
    } finally {
      await sshd.start();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000], 'backoff doubles: 1, 2, 4, 8 s');
    clock.advance(600);
    assert.equal((await pollServer({ serverId: server.id, dueAt: clock.now().toISOString() }, deps)).status, 'polled');
    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.consecutiveFailures, 0);
    assert.equal(view.lastError, null);
    clock.advance(600);
    await pollServer({ serverId: server.id, dueAt: clock.now().toISOString() }, deps);
    assert.deepEqual(names(await drainTransfers(), `${sshd.root}${dir}`), ['during.csv']);
  });
});

describe('poller: cost at scale', () => {
  it('polls an unchanged 10,000-file directory with a handful of DynamoDB requests and no SQS sends', async () => {
    const { server, dir } = await register();
    const root = join(sshd.root, dir);
    for (let index = 0; index < 10_000; index++) writeFileSync(join(root, `file-${String(index).padStart(5, '0')}.dat`), String(index));
    await poll(server.id);
    const taken = await poll(server.id);
    assert.equal(taken.status === 'polled' && taken.enqueued, 10_000);
    assert.equal((await drainTransfers()).length, 10_000);

    const dynamoCounts = countRequests(container.clients.dynamodb);
    const sqsCounts = countRequests(container.clients.sqs);
    const unchanged = await poll(server.id);
    assert.equal(unchanged.status === 'polled' && unchanged.listed, 10_000);
    assert.equal(unchanged.status === 'polled' && unchanged.enqueued, 0);
    const dynamoRequests = total(dynamoCounts);
    assert.ok(dynamoRequests <= 7, `DynamoDB requests per unchanged poll: ${dynamoRequests} ${JSON.stringify([...dynamoCounts])}`);
    assert.equal(total(sqsCounts), 0, `SQS requests: ${JSON.stringify([...sqsCounts])}`);
    rmSync(root, { recursive: true, force: true });
  });
});
