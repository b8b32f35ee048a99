import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { documentClient } from '../../lib/adapters/dynamodb-documents';
import { DynamoStatsReconciler } from '../../lib/adapters/dynamodb-stats';
import { FILE_STATUSES } from '../../lib/domain/file-version';
import { METRIC } from '../../lib/adapters/emf-metrics';
import { api, dynamoClient, functionLog, stage, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';
import { bindIngestedQueue } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

const STATUSES: readonly string[] = FILE_STATUSES;
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

interface EmfLine {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [name: string]: unknown;
}

/**
 * What the functions printed about this server's files: every log line naming one of its files also
 * names the server and the invocation (request id); and their CloudWatch metrics (embedded metric
 * format) counted each file's bytes, its transfer time and its detection-to-notification latency.
 */
async function functionsLogAndMetrics(serverId: string, sizes: number[]) {
  const files = (await api('GET', `/files?serverId=${serverId}&limit=100`)).json.items as { fileId: string }[];
  const fileIds = new Set(files.map((file) => file.fileId));
  const parsed = () =>
    functionLog()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const about = parsed().filter((line) => typeof line.fileId === 'string' && fileIds.has(line.fileId));
  for (const event of ['file_detected', 'file_uploaded', 'file_notified']) {
    assert.equal(about.filter((line) => line.event === event).length, 3, `three ${event} lines`);
  }
  for (const line of about) {
    assert.equal(line.serverId, serverId, `${String(line.event)} names the server`);
    assert.match(String(line.requestId), /^[\w-]{8,}$/, `${String(line.event)} names its invocation`);
    assert.equal(line.service, `sluice-${stage()}`);
  }
  // The notifier publishes its metrics as its invocation ends, just after its log lines.
  const emf = await eventually(
    'the metrics lines of the three files',
    async () => {
      const lines = parsed().filter((line): line is EmfLine => typeof line._aws === 'object' && line.service === `sluice-${stage()}`);
      const values = (name: string) => lines.flatMap((line) => (line[name] === undefined ? [] : [line[name]].flat() as number[]));
      return sizes.every((size) => values(METRIC.bytesIngested).includes(size)) && values(METRIC.detectToNotify).length >= 3 ? { lines, values } : undefined;
    },
    20_000,
    { everyMs: 250 },
  );
  const ingestLine = emf.lines.find((line) => [line[METRIC.bytesIngested]].flat().includes(sizes[0]))!;
  const declared = ingestLine._aws.CloudWatchMetrics[0]!;
  assert.equal(declared.Namespace, 'sluice');
  assert.deepEqual(declared.Dimensions, [['service']]);
  assert.deepEqual(
    [METRIC.filesIngested, METRIC.bytesIngested, METRIC.transferDuration].map((name) => declared.Metrics.find((metric) => metric.Name === name)?.Unit),
    ['Count', 'Bytes', 'Seconds'],
  );
  assert.ok(emf.values(METRIC.transferDuration).every((seconds) => seconds >= 0 && seconds < 150));
  assert.ok(emf.values(METRIC.detectToNotify).every((seconds) => seconds >= 0 && seconds < 300));
}

describe('GET /stats and GET /metrics through the running stack', () => {
  it("count a server's files as the files API shows them, and /metrics parses as Prometheus text", async () => {
    // Sizes no other test uses: the functions' metrics lines are found by them below.
    const contents = { 'a.csv': 'a'.repeat(1237), 'b.csv': 'b'.repeat(2741), 'c.csv': 'c'.repeat(3319) };
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
    // The console's per-hour charts: 24 hours oldest first, the ingest in the hour(s) it happened.
    const hourly = stats.last24h.hourly as { hour: string; filesIngested: number }[];
    assert.equal(hourly.length, 24);
    assert.equal(hourly[0]!.hour, stats.last24h.since);
    assert.equal(hourly.reduce((sum, hour) => sum + hour.filesIngested, 0), 3);
    assert.ok(hourly.slice(0, 22).every((hour) => hour.filesIngested === 0), 'nothing in the older hours');
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
    await functionsLogAndMetrics(serverId, Object.values(contents).map((body) => body.length));

    const dynamo = dynamoClient();
    try {
      const reconciler = new DynamoStatsReconciler({ documents: documentClient(dynamo), table: `sluice-${stage()}-files` });
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
