import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { formatExposition, histogramSamples, PROMETHEUS_CONTENT_TYPE } from '../../lib/domain/prometheus';
import type { ServerRecord } from '../../lib/domain/server';
import { FILE_STATUSES } from '../../lib/domain/file-version';
import { DETECT_TO_NOTIFY_BUCKETS, StatsDeltas, windowHours } from '../../lib/domain/stats';
import { NotFoundError } from '../../lib/errors';
import { route } from '../../lib/http/route';
import type { FileStatus, FileView, NotificationLedger, Publisher, StaleFile, StatsReconciler } from '../../lib/ports';
import { readStats, renderMetrics, type MetricsDeps } from '../../lib/use-cases/metrics';
import { notifyFile } from '../../lib/use-cases/notify';
import { retryFile } from '../../lib/use-cases/redrive';
import { sweep, type SweepDeps } from '../../lib/use-cases/sweep';
import { InMemoryFileVersions, InMemoryPollStateStore, InMemoryServerStore, InMemoryStats, RecordingLogger, RecordingQueue } from '../helpers/fakes';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text';

const now = new Date('2026-12-03T15:20:00Z');

describe('StatsDeltas', () => {
  it('counts a transition as -1 on the old status and +1 on the new, for the deployment and the server', () => {
    const deltas = new StatsDeltas();
    deltas.transition('s1', undefined, 'pending');
    deltas.transition('s1', 'pending', 'transferring');
    deltas.transition('s1', 'transferring', 'transferring');
    const items = deltas.drain();
    assert.deepEqual(
      items.map(({ scope, counters }) => ({ scope, counters })),
      [
        { scope: {}, counters: { s_pending: 0, s_transferring: 1 } },
        { scope: { serverId: 's1' }, counters: { s_pending: 0, s_transferring: 1 } },
      ],
    );
    assert.deepEqual(deltas.drain(), [], 'drained deltas are forgotten');
  });

  it('puts ingestion and failures in the hour they happened as well as in the totals', () => {
    const deltas = new StatsDeltas();
    deltas.ingested('s1', 100, now);
    deltas.failure('s1', 'auth_failed', now);
    const byKey = new Map(deltas.drain().map(({ scope, counters }) => [`${scope.serverId ?? '*'}/${scope.hour ?? 'all'}`, counters]));
    assert.deepEqual([...byKey.keys()].sort(), ['*/2026-12-03T15', '*/all', 's1/2026-12-03T15', 's1/all']);
    assert.deepEqual(byKey.get('s1/2026-12-03T15'), { ingestedFiles: 1, ingestedBytes: 100, f_auth_failed: 1 });
  });

  it('writes one item per touched scope however many files changed', async () => {
    const stats = new InMemoryStats();
    for (let index = 0; index < 50; index++) {
      stats.transition('s1', undefined, 'pending');
      stats.transition('s1', 'pending', 'transferring');
      stats.transition('s1', 'transferring', 'uploaded');
      stats.ingested('s1', 10, now);
    }
    await stats.flush();
    assert.equal(stats.writes, 4);
    assert.equal((await stats.read('s1', now)).counts.uploaded, 50);
  });

  it('keeps deltas a failed write did not store for the next flush', () => {
    const deltas = new StatsDeltas();
    deltas.transition('s1', undefined, 'pending');
    const lost = deltas.drain();
    deltas.transition('s1', undefined, 'pending');
    deltas.restore(lost);
    assert.equal(deltas.drain()[0]?.counters.s_pending, 2);
  });
});

describe('the stats snapshot', () => {
  it('lists all seven statuses with zeros, sums the 24 h window and leaves out older hours', async () => {
    const stats = new InMemoryStats();
    stats.transition('s1', undefined, 'quarantined');
    stats.ingested('s1', 7, new Date(now.getTime() - 23 * 3_600_000));
    stats.ingested('s1', 1000, new Date(now.getTime() - 24 * 3_600_000));
    stats.failure('s1', 'timeout', now);
    stats.failure('s1', 'timeout', new Date(now.getTime() - 3_600_000));
    await stats.flush();
    const snapshot = await stats.read('s1', now);
    assert.deepEqual(Object.keys(snapshot.counts), [...FILE_STATUSES]);
    assert.deepEqual(snapshot.counts, { pending: 0, transferring: 0, uploaded: 0, notified: 0, failed: 0, quarantined: 1, vanished: 0 });
    const { hourly, ...window } = snapshot.last24h;
    assert.deepEqual(window, { since: '2026-12-02T16:00:00.000Z', filesIngested: 1, bytesIngested: 7, failures: { timeout: 2 } });
    assert.equal(hourly.length, 24);
    assert.deepEqual(snapshot.totals, { filesIngested: 2, bytesIngested: 1007 });
    assert.equal(windowHours(now).length, 24);
  });

  it('lists the 24 hours of the window oldest first, zeros included, each with its files, bytes and failures', async () => {
    const stats = new InMemoryStats();
    stats.ingested('s1', 7, new Date(now.getTime() - 23 * 3_600_000));
    stats.ingested('s1', 5, now);
    stats.ingested('s1', 6, now);
    stats.failure('s1', 'timeout', now);
    stats.failure('s1', 'auth_failed', now);
    await stats.flush();
    const { hourly } = (await stats.read('s1', now)).last24h;
    assert.deepEqual(hourly[0], { hour: '2026-12-02T16:00:00.000Z', filesIngested: 1, bytesIngested: 7, failures: 0 });
    assert.deepEqual(hourly[1], { hour: '2026-12-02T17:00:00.000Z', filesIngested: 0, bytesIngested: 0, failures: 0 });
    assert.deepEqual(hourly[23], { hour: '2026-12-03T15:00:00.000Z', filesIngested: 2, bytesIngested: 11, failures: 2 });
    assert.deepEqual(
      hourly.map(({ hour }) => hour),
      windowHours(now).map((hour) => `${hour}:00:00.000Z`),
    );
  });

  it('keeps the histogram cumulative with +Inf as the count', async () => {
    const stats = new InMemoryStats();
    for (const seconds of [0.5, 3, 3, 45, 7200]) stats.notified('s1', seconds);
    await stats.flush();
    const { detectToNotify } = await stats.read(undefined, now);
    assert.deepEqual(
      detectToNotify.buckets.map(({ count }) => count),
      [1, 1, 3, 3, 3, 4, 4, 4],
    );
    assert.equal(detectToNotify.buckets.length, DETECT_TO_NOTIFY_BUCKETS.length);
    assert.equal(detectToNotify.count, 5);
    assert.equal(detectToNotify.sum, 7251.5);
  });

  it('never shows a negative count (drift after a crash before a flush)', async () => {
    const stats = new InMemoryStats();
    stats.transition('s1', 'pending', 'transferring');
    await stats.flush();
    assert.equal((await stats.read('s1', now)).counts.pending, 0);
  });
});

describe('formatExposition', () => {
  it('writes HELP and TYPE lines, escapes label values and ends with a newline', () => {
    const text = formatExposition([
      { name: 'x_total', help: 'A \\ counter\nover two lines.', type: 'counter', samples: [{ labels: { path: 'a"b\\c\nd' }, value: 3 }] },
      { name: 'lat_seconds', help: 'Latency.', type: 'histogram', samples: histogramSamples({ buckets: [{ le: 1, count: 2 }], sum: 1.5, count: 3 }) },
    ]);
    assert.equal(
      text,
      [
        '# HELP x_total A \\\\ counter\\nover two lines.',
        '# TYPE x_total counter',
        'x_total{path="a\\"b\\\\c\\nd"} 3',
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{le="1"} 2',
        'lat_seconds_bucket{le="+Inf"} 3',
        'lat_seconds_sum 1.5',
        'lat_seconds_count 3',
        '',
      ].join('\n'),
    );
    const parsed = parsePrometheusText(text);
    assert.equal(sampleValue(parsed, 'x_total', { path: 'a"b\\c\nd' }), 3);
  });
});

function metricsDeps(stats: InMemoryStats): MetricsDeps {
  const servers = new InMemoryServerStore();
  const pollState = new InMemoryPollStateStore();
  const server = (id: string, active: boolean) => ({ id, name: id, active, createdAt: '2026-01-01T00:00:00Z' }) as unknown as ServerRecord;
  servers.servers.set('ok', server('ok', true));
  servers.servers.set('bad', server('bad', true));
  servers.servers.set('off', server('off', false));
  pollState.states.set('bad', { serverId: 'bad', consecutiveFailures: 3 });
  pollState.states.set('ok', { serverId: 'ok', consecutiveFailures: 0 });
  const oldest: Partial<Record<string, StaleFile>> = {
    pending: { fileId: 'f', serverId: 'ok', remotePath: '/f', size: 1, mtime: 1, statusSince: new Date(now.getTime() - 90_000).toISOString() },
  };
  return {
    stats,
    servers,
    pollState,
    queues: { depths: async () => [{ queue: 'transfer', visible: 4, inflight: 2 }, { queue: 'notify-dlq', visible: 1, inflight: 0 }] },
    stale: { list: async (status) => (oldest[status] ? [oldest[status]] : []) },
    clock: { now: () => now },
  };
}

describe('renderMetrics', () => {
  it('exposes every family the contract names, parseable as Prometheus text', async () => {
    const stats = new InMemoryStats();
    stats.transition('s1', undefined, 'pending');
    stats.transition('s1', 'pending', 'transferring');
    stats.transition('s1', 'transferring', 'uploaded');
    stats.ingested('s1', 2048, now);
    stats.transition('s1', 'uploaded', 'notified');
    stats.notified('s1', 4);
    await stats.flush();
    const parsed = parsePrometheusText(await renderMetrics(metricsDeps(stats)));
    for (const status of FILE_STATUSES) assert.equal(sampleValue(parsed, 'sluice_files', { status }), status === 'notified' ? 1 : 0, status);
    assert.equal(sampleValue(parsed, 'sluice_files_ingested_total'), 1);
    assert.equal(sampleValue(parsed, 'sluice_bytes_ingested_total'), 2048);
    assert.deepEqual(
      ['active', 'failing', 'inactive'].map((state) => sampleValue(parsed, 'sluice_servers', { state })),
      [1, 1, 1],
    );
    assert.equal(sampleValue(parsed, 'sluice_queue_messages', { queue: 'transfer', state: 'visible' }), 4);
    assert.equal(sampleValue(parsed, 'sluice_queue_messages', { queue: 'transfer', state: 'inflight' }), 2);
    assert.equal(sampleValue(parsed, 'sluice_queue_messages', { queue: 'notify-dlq', state: 'visible' }), 1);
    assert.equal(sampleValue(parsed, 'sluice_queue_oldest_message_age_seconds', { queue: 'transfer' }), 90);
    assert.equal(sampleValue(parsed, 'sluice_queue_oldest_message_age_seconds', { queue: 'notify' }), 0);
    assert.equal(sampleValue(parsed, 'sluice_detect_to_notify_seconds_bucket', { le: '2' }), 0);
    assert.equal(sampleValue(parsed, 'sluice_detect_to_notify_seconds_bucket', { le: '5' }), 1);
    assert.equal(sampleValue(parsed, 'sluice_detect_to_notify_seconds_bucket', { le: '+Inf' }), 1);
    assert.equal(sampleValue(parsed, 'sluice_detect_to_notify_seconds_count'), 1);
    assert.equal(parsed.types.get('sluice_detect_to_notify_seconds'), 'histogram');
    assert.equal(parsed.types.get('sluice_files_ingested_total'), 'counter');
    for (const name of parsed.types.keys()) assert.ok(parsed.help.has(name), `HELP of ${name}`);
  });
});

describe('readStats', () => {
  it('refuses an unknown server with a 404 and reads a known one', async () => {
    const stats = new InMemoryStats();
    const deps = metricsDeps(stats);
    await assert.rejects(readStats('nope', deps), NotFoundError);
    assert.equal((await readStats('ok', deps)).serverId, 'ok');
    assert.equal((await readStats(undefined, deps)).serverId, null);
  });
});

describe('the use cases count what they change', () => {
  it('notify counts the first announcement and its detect-to-notify latency, not a re-announcement', async () => {
    const stats = new InMemoryStats();
    const file = { fileId: 'a'.repeat(32), serverId: 's1', serverName: 'acme', remotePath: '/a', size: 1, mtime: '2026-01-01T00:00:00.000Z', status: 'uploaded', discoveredAt: new Date(Date.now() - 3000).toISOString(), bucket: 'b', key: 'k', sha256: 'x', etag: 'e', versionId: null, uploadedAt: new Date().toISOString() } as FileView;
    let first = true;
    const ledger = {
      claim: async () => file,
      markNotified: async () => {
        const was = first;
        first = false;
        return was;
      },
    } as unknown as NotificationLedger;
    const publisher: Publisher = { publish: async () => {}, close: async () => {} };
    const deps = { files: { get: async () => file, listByServer: async () => ({ items: [] }) }, ledger, publisher, logger: new RecordingLogger(), leaseSeconds: 30, backoffCapSeconds: 30, maxRejections: 3, stats };
    await notifyFile({ fileId: file.fileId }, deps);
    await notifyFile({ fileId: file.fileId }, deps, { again: true });
    await stats.flush();
    const snapshot = await stats.read('s1', new Date());
    assert.equal(snapshot.counts.notified, 1);
    assert.equal(snapshot.detectToNotify.count, 1);
    assert.equal(snapshot.detectToNotify.buckets.find(({ le }) => le === 5)?.count, 1);
  });

  it('a retry moves the version from its status back to pending', async () => {
    const stats = new InMemoryStats();
    const files = new InMemoryFileVersions();
    const servers = new InMemoryServerStore();
    servers.servers.set('s1', { id: 's1', name: 'acme' } as ServerRecord);
    const fileId = 'b'.repeat(32);
    files.put({ fileId, serverId: 's1', serverName: 'acme', remotePath: '/b', relativePath: 'b', size: 1, mtime: '2026-01-01T00:00:00.000Z', status: 'quarantined', statusSince: '2026-01-01T00:00:00.000Z', discoveredAt: '2026-01-01T00:00:00.000Z', attempts: 3, lastError: { code: 'auth_failed', message: 'x' }, nextAttemptAt: null, bucket: null, key: null, sha256: null, etag: null, versionId: null, objectChecksum: null, uploadedAt: null, uploadedBytes: null, notifiedAt: null, notifyAttempts: 0, notifyParked: false });
    stats.transition('s1', undefined, 'quarantined');
    await retryFile(fileId, { files, ledger: files, servers, transfers: new RecordingQueue(), notifications: new RecordingQueue(), clock: { now: () => now }, logger: new RecordingLogger(), budgetMs: 1000, stats });
    await stats.flush();
    const { counts } = await stats.read('s1', now);
    assert.equal(counts.quarantined, 0);
    assert.equal(counts.pending, 1);
  });
});

describe('a text route', () => {
  it('sends the body as is with its content type', async () => {
    const handler = route({ authenticated: false }, () => ({ logger: new RecordingLogger(), apiToken: async () => 'x'.repeat(16) }), async () => ({
      status: 200,
      text: { contentType: PROMETHEUS_CONTENT_TYPE, content: '# TYPE a gauge\na 1\n' },
    }));
    const response = await handler({ rawPath: '/metrics', headers: {}, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2, { awsRequestId: 'r' } as Context);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers?.['content-type'], PROMETHEUS_CONTENT_TYPE);
    assert.equal(response.body, '# TYPE a gauge\na 1\n');
  });
});

describe('the sweeper reconciles the counters', () => {
  function reconcileFixture(options: { moving?: boolean; claimed?: boolean } = {}) {
    const stats = new InMemoryStats();
    const actual: Record<string, Partial<Record<string, number>>> = { s1: { notified: 5 }, s2: { pending: 1 } };
    const servers = new InMemoryServerStore();
    for (const id of ['s1', 's2']) servers.servers.set(id, { id, name: id, createdAt: '2026-01-01T00:00:00Z' } as unknown as ServerRecord);
    let reads = 0;
    const reconciler: StatsReconciler = {
      claimReconcile: async () => options.claimed ?? true,
      storedCounts: async (ids) => {
        // A flush of s2's counters lands between the reads around its count.
        if (options.moving && ids[0] === 's2' && reads++ === 1) stats.transition('s2', undefined, 'failed');
        await stats.flush();
        const snapshots = await Promise.all(ids.map(async (id) => [id, (await stats.read(id, now)).counts] as const));
        return new Map(snapshots);
      },
      countVersions: async (serverId) => Object.fromEntries(FILE_STATUSES.map((status) => [status, actual[serverId]?.[status] ?? 0])) as Record<FileStatus, number>,
      correct: async (serverId, delta) => {
        for (const [status, value] of Object.entries(delta)) for (let index = 0; index < value; index++) stats.transition(serverId, undefined, status as FileStatus);
        await stats.flush();
      },
    };
    const deps: SweepDeps = {
      stale: { list: async () => [], uploadsInUse: async () => new Set() },
      notifications: new RecordingQueue(),
      transfers: new RecordingQueue(),
      store: { listMultipartUploads: async () => [], abortMultipartUpload: async () => {} },
      logger: new RecordingLogger(),
      notifyAfterSeconds: 120,
      transferStuckAfterSeconds: 1800,
      orphanUploadAfterSeconds: 86400,
      limit: 100,
      reconcile: { stats: reconciler, servers, everySeconds: 3600, budgetMs: 10_000 },
    };
    return { stats, deps };
  }

  it('adds the difference between the versions counted and the counters to each server and the deployment', async () => {
    const { stats, deps } = reconcileFixture();
    stats.transition('s1', undefined, 'notified');
    await stats.flush();
    const report = await sweep(deps, now);
    assert.deepEqual(report.reconciled, { checked: 2, corrected: 2, skipped: 0 });
    assert.equal((await stats.read('s1', now)).counts.notified, 5);
    assert.equal((await stats.read(undefined, now)).counts.pending, 1);
  });

  it('leaves a server whose counters moved while it was counted for the next turn, and does nothing when another sweeper has the turn', async () => {
    const moving = reconcileFixture({ moving: true });
    assert.deepEqual((await sweep(moving.deps, now)).reconciled, { checked: 1, corrected: 1, skipped: 1 });
    assert.equal((await moving.stats.read('s2', now)).counts.pending, 0);
    const notMine = reconcileFixture({ claimed: false });
    assert.equal((await sweep(notMine.deps, now)).reconciled, undefined);
  });
});
