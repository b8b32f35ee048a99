import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { DynamoStatsReconciler } from '../../lib/adapters/dynamodb-stats';
import { FILE_STATUS_ORDER } from '../../lib/domain/stats';
import { api, dynamoClient, stage, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';
import { bindIngestedQueue } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../helpers/sshd';

const STATUSES: readonly string[] = FILE_STATUS_ORDER;
let sshd: Sshd;
let broker: ChannelModel;

before(async () => {
  sshd = await startSshd();
  // Announcements need a bound queue (AMQP_MANDATORY): one of ours, so the files reach `notified`.
  broker = await bindIngestedQueue();
});
after(async () => {
  await broker.close();
  await sshd.dispose();
});

async function statusCounts(serverId: string): Promise<Record<string, number>> {
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  let nextToken: string | null = null;
  do {
    const page = await api('GET', `/files?serverId=${serverId}&limit=100${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ''}`);
    assert.equal(page.status, 200, page.text);
    for (const file of page.json.items as { status: string }[]) counts[file.status] = (counts[file.status] ?? 0) + 1;
    nextToken = page.json.nextToken;
  } while (nextToken);
  return counts;
}

describe('GET /stats and GET /metrics through the running stack', () => {
  it("count a server's files as the files API shows them, and /metrics parses as Prometheus text", async () => {
    const contents = { 'a.csv': 'alpha', 'b.csv': 'bravo!', 'c.csv': 'charlie-7' };
    for (const [name, body] of Object.entries(contents)) writeRemoteFile(sshd, `metrics/${name}`, body, 1_700_000_000);
    const created = await api('POST', '/servers', {
      body: { name: uniqueName('metrics'), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}/metrics`, stableAfterSeconds: 0 },
    });
    assert.equal(created.status, 201, created.text);
    const serverId: string = created.json.id;

    await eventually('every file notified', async () => ((await statusCounts(serverId)).notified === 3 ? true : undefined), 150_000, { everyMs: 500 });
    const expected = await statusCounts(serverId);
    // The notifier flushes its counters when its invocation ends, just after the ledger write.
    const stats = await eventually(
      '/stats to match the files API',
      async () => {
        const response = await api('GET', `/stats?serverId=${serverId}`);
        assert.equal(response.status, 200, response.text);
        return JSON.stringify(response.json.counts) === JSON.stringify(expected) ? response.json : undefined;
      },
      30_000,
      { everyMs: 500 },
    );
    assert.deepEqual(Object.keys(stats.counts), STATUSES, 'all seven statuses, zeros included');
    const bytes = Object.values(contents).reduce((sum, body) => sum + body.length, 0);
    assert.equal(stats.last24h.filesIngested, 3);
    assert.equal(stats.last24h.bytesIngested, bytes);
    assert.deepEqual(stats.last24h.failures, {});
    assert.equal(stats.detectToNotify.count, 3);

    const metrics = await api('GET', '/metrics');
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const parsed = parsePrometheusText(metrics.text);
    const deployment = (await api('GET', '/stats')).json;
    for (const status of STATUSES) {
      const value = sampleValue(parsed, 'sluice_files', { status });
      assert.ok(value !== undefined && value >= stats.counts[status], `sluice_files{status="${status}"} ${value} >= ${stats.counts[status]}`);
      assert.ok(deployment.counts[status] >= stats.counts[status]);
    }
    assert.ok(sampleValue(parsed, 'sluice_files_ingested_total')! >= 3);
    assert.ok(sampleValue(parsed, 'sluice_bytes_ingested_total')! >= bytes);
    assert.ok(sampleValue(parsed, 'sluice_servers', { state: 'active' })! + sampleValue(parsed, 'sluice_servers', { state: 'failing' })! >= 1);
    for (const queue of ['poll', 'transfer', 'notify', 'poll-dlq', 'transfer-dlq', 'notify-dlq']) {
      for (const state of ['visible', 'inflight']) assert.notEqual(sampleValue(parsed, 'sluice_queue_messages', { queue, state }), undefined, `${queue} ${state}`);
    }
    assert.ok(sampleValue(parsed, 'sluice_detect_to_notify_seconds_count')! >= 3);
    assert.equal(sampleValue(parsed, 'sluice_detect_to_notify_seconds_bucket', { le: '+Inf' }), sampleValue(parsed, 'sluice_detect_to_notify_seconds_count'));
    assert.equal(parsed.types.get('sluice_detect_to_notify_seconds'), 'histogram');

    // The sweeper's reconcile, against the same table: it counts what the files API shows and its
    // correction lands in the counters /stats reads.
    const dynamo = dynamoClient();
    try {
      const reconciler = new DynamoStatsReconciler({ client: dynamo, table: `sluice-${stage()}-files` });
      assert.deepEqual(await reconciler.countVersions(serverId, new Date(Date.now() + 10_000)), expected);
      assert.deepEqual((await reconciler.storedCounts([serverId])).get(serverId), expected);
      await reconciler.correct(serverId, { vanished: 2 });
      assert.equal((await api('GET', `/stats?serverId=${serverId}`)).json.counts.vanished, 2);
      await reconciler.correct(serverId, { vanished: -2 });
      assert.deepEqual((await api('GET', `/stats?serverId=${serverId}`)).json.counts, expected);
    } finally {
      dynamo.destroy();
    }
  });

  it('validates serverId: 400 naming query.serverId, 404 for an unknown server', async () => {
    const bad = await api('GET', '/stats?serverId=');
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(bad.json.errors.map((error: { field: string }) => error.field), ['query.serverId']);
    const unknown = await api('GET', '/stats?serverId=no-such-server');
    assert.equal(unknown.status, 404, unknown.text);
  });

  it('answers 401 without the bearer token', async () => {
    for (const path of ['/stats', '/metrics']) {
      const response = await api('GET', path, { token: null });
      assert.equal(response.status, 401, path);
      assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
    }
  });
});
