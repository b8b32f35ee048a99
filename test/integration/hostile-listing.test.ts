import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connect } from 'amqplib';
import type { Container } from '../../lib/container';
import { fileVersionId } from '../../lib/domain/file-identity';
import { CreateServerInput } from '../../lib/domain/server';
import type { TransferJob } from '../../lib/ports';
import { pollServer, type PollDeps } from '../../lib/use-cases/poll';
import { createServer, getServer } from '../../lib/use-cases/servers';
import { api, functionLog, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { fixtureLogin, type FixtureSftpServer, startFixtureSftpServer } from '../helpers/fixture-sftp-server';
import { SHARED_AMQP_URL } from '../helpers/rabbitmq';
import { drainJobs, isolatedContainer } from '../../scripts/fixtures/resources';

/** Characters no log line, API answer or object key may carry raw. */
const RAW_C1_OR_BIDI = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufffd]/;
const MTIME = 1_700_000_000;

let sftp: FixtureSftpServer;
before(async () => {
  sftp = await startFixtureSftpServer();
});
after(async () => {
  await sftp?.close();
});

describe('hostile names next to good files, through the running stack', () => {
  it('ingests the good files and quarantines each hostile name as unsafe_name, escaped in the files API and the log', async (t) => {
    const dir = `/hostile-${process.pid}`;
    const good = { 'good-1.csv': 'one', 'ünïcödé €.csv': 'two', 'sub/good-3.csv': 'three' };
    for (const [name, content] of Object.entries(good)) sftp.put(`${dir}/${name}`, content, MTIME);
    const hostile: Record<string, string> = {
      'C0 control': 'ctl-\u0001.csv',
      'C1 control': 'nel-\u0085.csv',
      'right-to-left override': 'invoice-\u202ecsv.exe',
      'left-to-right isolate': 'lri-\u2066.csv',
      '300-byte component': `${'l'.repeat(296)}.csv`,
      '200,000-byte name': `${'h'.repeat(199_996)}.csv`,
    };
    for (const name of Object.values(hostile)) sftp.put(`${dir}/${name}`, 'hostile', MTIME);
    // 'bad' 0xFF 0xFE '.csv': ssh2 decodes the two bytes that are not UTF-8 as U+FFFD each.
    sftp.putRaw(dir, Buffer.concat([Buffer.from('bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.csv')]), 'hostile', MTIME);
    hostile['bytes that are not UTF-8'] = 'bad\ufffd\ufffd.csv';
    // A directory with a hostile name is reported, not descended into.
    sftp.put(`${dir}/evil-\u202edir/inner.csv`, 'inside', MTIME);

    // The stack publishes to the shared broker's `sluice` exchange; a queue of ours makes the announcements routable.
    const broker = await connect(SHARED_AMQP_URL);
    t.after(() => broker.close().catch(() => {}));
    const channel = await broker.createChannel();
    await channel.assertExchange('sluice', 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'sluice', 'file.ingested');
    const announced: string[] = [];
    await channel.consume(queue, (message) => message && announced.push(message.content.toString()), { noAck: true });

    const created = await api('POST', '/servers', {
      body: {
        name: uniqueName('hostile'),
        ...fixtureLogin(sftp),
        remoteDir: dir,
        recursive: true,
        stableAfterSeconds: 0,
      },
    });
    assert.equal(created.status, 201, created.text);
    const serverId: string = created.json.id;
    const keyPrefix: string = created.json.keyPrefix;
    // Taken once: the fileId is the raw path's, whatever the API shows.
    const expected = new Map(Object.entries(hostile).map(([what, name]) => [fileVersionId(serverId, { path: `${dir}/${name}`, size: 'hostile'.length, mtime: MTIME }), what]));
    const directoryId = fileVersionId(serverId, { path: `${dir}/evil-\u202edir`, size: 4096, mtime: MTIME });

    type View = { fileId: string; status: string; relativePath: string; remotePath: string; lastError: { code: string; message: string } | null };
    let seen: View[] = [];
    const files = await eventually(
      'the good files notified and the hostile ones quarantined',
      async () => {
        const { json } = await api('GET', `/files?serverId=${serverId}&limit=100`);
        const items = (seen = (json?.items ?? []) as View[]);
        const done = items.filter((file) => file.status === 'notified').length === 3;
        const quarantined = items.filter((file) => file.status === 'quarantined').length === expected.size + 1;
        return done && quarantined ? items : undefined;
      },
      90_000,
      {
        context: () =>
          `files: ${JSON.stringify(seen.map((file) => [file.relativePath.slice(0, 40), file.status, file.lastError?.code]))}\n` +
          functionLog().split('\n').filter((line) => line.includes(serverId)).slice(-10).join('\n').slice(-4000),
      },
    );

    const byId = new Map(files.map((file) => [file.fileId, file]));
    for (const [fileId, what] of expected) {
      const file = byId.get(fileId);
      assert.ok(file, `${what}: quarantined under the fileId of its raw path`);
      assert.equal(file.status, 'quarantined', what);
      assert.equal(file.lastError?.code, 'unsafe_name', what);
      assert.doesNotMatch(`${file.remotePath} ${file.relativePath} ${file.lastError?.message}`, RAW_UNSAFE, `${what}: escaped in the files API`);
      assert.ok(file.remotePath.length < 1100 && file.relativePath.length < 1100, `${what}: a bounded name`);
    }
    assert.equal(byId.get(directoryId)?.status, 'quarantined', 'the hostile directory');
    assert.match(byId.get(directoryId)!.lastError!.message, /directory/);
    assert.equal(byId.get(directoryId)!.relativePath, 'evil-\\u{202E}dir');
    assert.ok(!sftp.requests.some((request) => request.includes('evil-')), `no request named the hostile directory: ${sftp.requests.filter((r) => r.startsWith('OPENDIR')).join(', ')}`);
    const ours = await eventually('three announcements', () => {
      const bodies = announced.filter((body) => body.includes(serverId)).map((body) => JSON.parse(body) as { remotePath: string });
      return bodies.length >= 3 ? bodies : undefined;
    }, 10_000);
    assert.deepEqual(ours.map((message) => message.remotePath.slice(dir.length + 1)).sort(), Object.keys(good).sort(), 'only the good files are announced');
    const filtered = await api('GET', `/files?serverId=${serverId}&status=quarantined&limit=100`);
    assert.equal(filtered.json.items.length, expected.size + 1, 'GET /files?status=quarantined shows them');

    const s3 = new S3Client({ region: 'us-east-1', forcePathStyle: true });
    try {
      for (const [name, content] of Object.entries(good)) {
        const { Body } = await s3.send(new GetObjectCommand({ Bucket: 'sluice-ingest', Key: `${keyPrefix}/${name}` }));
        assert.equal(await Body!.transformToString(), content, name);
      }
    } finally {
      s3.destroy();
    }

    const log = functionLog();
    assert.doesNotMatch(log, RAW_C1_OR_BIDI, 'no raw C1 or bidi character in the functions log');
    const quarantineLines = log.split('\n').filter((line) => line.includes('"event":"file_quarantined"') && line.includes(serverId));
    assert.equal(quarantineLines.length, expected.size + 1, 'one file_quarantined line each');
    assert.ok(quarantineLines.some((line) => line.includes('invoice-\\\\u{202E}csv.exe')), 'the name shown escaped');
    assert.ok(quarantineLines.every((line) => line.length < 4000), 'a 200,000-byte name is cut in the log');
    await api('DELETE', `/servers/${serverId}`);
  });
});

describe('listing bounds, at the use case with a real SFTP session', () => {
  let container: Container;
  let transferQueueUrl: string;
  let deps: PollDeps;
  let nowMs = Date.now();
  let counter = 0;
  const clock = { now: () => new Date(nowMs) };

  before(async () => {
    const isolated = await isolatedContainer();
    container = isolated.container;
    transferQueueUrl = isolated.queueUrls[`${isolated.prefix}-transfer`]!;
    deps = { ...container.pollDeps, clock, random: () => 0.5 };
  });

  async function register(fields: Record<string, unknown> = {}) {
    const dir = `/bounds-${process.pid}-${++counter}`;
    sftp.mkdir(dir);
    const server = await createServer(
      CreateServerInput.parse({
        name: `bounds-${process.pid}-${counter}`,
        ...fixtureLogin(sftp),
        remoteDir: dir,
        stableAfterSeconds: 0,
        ...fields,
      }),
      { ...container.serverDeps, clock },
    );
    return { server, dir };
  }

  async function poll(serverId: string, bounds: PollDeps['listingBounds']) {
    nowMs += 600_000; // past any backoff
    return pollServer({ serverId, dueAt: clock.now().toISOString() }, { ...deps, listingBounds: bounds });
  }

  const drainTransfers = () => drainJobs<TransferJob>(container.clients.sqs, transferQueueUrl);

  const ledgerCount = async (serverId: string) => (await container.files.listByServer(serverId, 1000)).items.length;

  it('fails a listing past POLL_MAX_ENTRIES as listing_too_large, taking none of the 150 ready files it saw, and takes them once it fits', async () => {
    const { server, dir } = await register();
    for (let index = 0; index < 150; index++) sftp.put(`${dir}/a-${String(index).padStart(3, '0')}.csv`, `a${index}`, MTIME);
    await drainTransfers();
    assert.equal((await poll(server.id, { maxEntries: 200, maxDepth: 32, maxSeconds: 120 })).status, 'polled', 'first sighting: all waiting');

    // Listed after the 150 ready ones, so the bound is passed only after more than a page of them was seen.
    for (let index = 0; index < 100; index++) sftp.put(`${dir}/b-${String(index).padStart(3, '0')}.csv`, `b${index}`, MTIME);
    const failed = await poll(server.id, { maxEntries: 200, maxDepth: 32, maxSeconds: 120 });
    assert.equal(failed.status === 'failed' && failed.code, 'listing_too_large');
    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.lastError?.code, 'listing_too_large');
    assert.match(view.lastError!.message, /POLL_MAX_ENTRIES/);
    assert.equal(view.consecutiveFailures, 1);
    assert.ok(view.nextPollAt && view.lastPollAt && view.nextPollAt > view.lastPollAt, 'backs off');
    assert.equal(await ledgerCount(server.id), 0, 'no ledger record');
    assert.deepEqual(await drainTransfers(), [], 'no transfer job');

    const fits = await poll(server.id, { maxEntries: 250, maxDepth: 32, maxSeconds: 120 });
    assert.deepEqual(fits, { status: 'polled', listed: 250, enqueued: 150, waiting: 100 });
    assert.equal((await drainTransfers()).length, 150);
    assert.equal((await getServer(server.id, container.serverDeps)).consecutiveFailures, 0);
  });

  it('counts directories as entries, even those a flat listing does not descend into', async () => {
    const { server, dir } = await register();
    for (const name of ['x.csv', 'y.csv', 'z.csv']) sftp.put(`${dir}/${name}`, name, MTIME);
    for (const name of ['d1', 'd2', 'd3']) sftp.mkdir(`${dir}/${name}`);
    const failed = await poll(server.id, { maxEntries: 5, maxDepth: 32, maxSeconds: 120 });
    assert.equal(failed.status === 'failed' && failed.code, 'listing_too_large');
    assert.equal((await poll(server.id, { maxEntries: 6, maxDepth: 32, maxSeconds: 120 })).status, 'polled');
  });

  it('fails a recursive listing nested deeper than POLL_MAX_DEPTH as listing_too_large, taking nothing', async () => {
    const { server, dir } = await register({ recursive: true });
    sftp.put(`${dir}/top.csv`, 'top', MTIME);
    sftp.put(`${dir}/1/2/3/three.csv`, 'three', MTIME);
    await drainTransfers();
    assert.equal((await poll(server.id, { maxEntries: 100, maxDepth: 3, maxSeconds: 120 })).status, 'polled', 'three levels down is within 3');
    sftp.put(`${dir}/1/2/3/4/four.csv`, 'four', MTIME);
    const failed = await poll(server.id, { maxEntries: 100, maxDepth: 3, maxSeconds: 120 });
    assert.equal(failed.status === 'failed' && failed.code, 'listing_too_large');
    const view = await getServer(server.id, container.serverDeps);
    assert.equal(view.lastError?.code, 'listing_too_large');
    assert.match(view.lastError!.message, /POLL_MAX_DEPTH/);
    assert.equal(await ledgerCount(server.id), 0, 'top.csv and three.csv were ready, yet not taken');
    assert.deepEqual(await drainTransfers(), []);
    const deeper = await poll(server.id, { maxEntries: 100, maxDepth: 4, maxSeconds: 120 });
    assert.equal(deeper.status === 'polled' && deeper.enqueued, 2);
  });
});
