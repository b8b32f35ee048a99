import { api, apiText, query } from './api';
import { CategoryBars, TimeChart } from './chart';
import { formatBytes, formatCount, formatDateTime, hourLabel, statusTone } from './format';
import { usePoll } from './poll';
import { metricValue, parseMetrics, queueDepths } from './prometheus';
import { recordDepths } from './queue-history';
import { ALL_SERVERS, href } from './routes';
import { loadAllServers } from './servers';
import { FILE_STATUSES, type Stats } from './types';
import { LoadFailed, Loading } from './ui';

const COLORS = { files: '#1f6feb', bytes: '#8250df', failures: '#cf222e', poll: '#9a6700', transfer: '#1f6feb', notify: '#1a7f37', dlq: '#cf222e' };
/** The queue-depth history chart shows the last 10 minutes (samples kept: queue-history.ts). */
const HISTORY_WINDOW_SECONDS = 600;
const clock = (seconds: number) => formatDateTime(new Date(seconds * 1000).toISOString()).slice(11, 16);

async function loadMetrics() {
  const samples = parseMetrics(await apiText('/metrics'));
  const depths = queueDepths(samples);
  return { samples, depths, history: recordDepths(depths, new Date()) };
}

function Tile({ label, value, tone, note }: { label: string; value: string; tone?: string; note?: string }) {
  return (
    <div class={`tile tone-${tone ?? 'info'}`}>
      <span class="tile-value">{value}</span>
      <span class="tile-label">{label}</span>
      {note && <span class="tile-note">{note}</span>}
    </div>
  );
}

function IngestCharts({ stats }: { stats: Stats }) {
  const hourly = stats.last24h.hourly ?? [];
  const x = hourly.map((hour) => Date.parse(hour.hour) / 1000 + 1800);
  const busiest = hourly.reduce((best, hour) => (hour.filesIngested > (best?.filesIngested ?? -1) ? hour : best), hourly[0]);
  const failures = Object.entries(stats.last24h.failures).sort((a, b) => b[1] - a[1]);
  return (
    <div class="chart-grid">
      <section class="card" aria-labelledby="files-per-hour">
        <h2 id="files-per-hour">Files ingested per hour</h2>
        <p class="muted small">Last 24 h: {formatCount(stats.last24h.filesIngested)} files</p>
        <TimeChart
          x={x}
          xPadding={1800}
          series={[{ label: 'files', values: hourly.map((hour) => hour.filesIngested), color: COLORS.files, kind: 'bars' }]}
          formatX={(seconds) => hourLabel(seconds - 1800)}
          formatY={(value) => formatCount(value)}
          whole
          summary={`Files ingested per hour over the last 24 hours: ${stats.last24h.filesIngested} in all${busiest ? `, most (${busiest.filesIngested}) in the hour from ${hourLabel(Date.parse(busiest.hour) / 1000)}` : ''}.`}
        />
      </section>
      <section class="card" aria-labelledby="bytes-per-hour">
        <h2 id="bytes-per-hour">Bytes ingested per hour</h2>
        <p class="muted small">Last 24 h: {formatBytes(stats.last24h.bytesIngested)}</p>
        <TimeChart
          x={x}
          xPadding={1800}
          series={[{ label: 'bytes', values: hourly.map((hour) => hour.bytesIngested), color: COLORS.bytes, kind: 'bars' }]}
          formatX={(seconds) => hourLabel(seconds - 1800)}
          formatY={formatBytes}
          summary={`Bytes ingested per hour over the last 24 hours: ${formatBytes(stats.last24h.bytesIngested)} in all.`}
        />
      </section>
      <section class="card" aria-labelledby="failures-by-code">
        <h2 id="failures-by-code">Failures by code</h2>
        <p class="muted small">Failed transfer attempts and quarantines, last 24 h</p>
        <CategoryBars rows={failures.map(([code, count]) => ({ label: code, value: count, tone: 'bad' }))} format={formatCount} empty="No failures in the last 24 h." />
        {failures.length > 0 && (
          <TimeChart
            x={x}
            xPadding={1800}
            height={120}
            series={[{ label: 'failures', values: hourly.map((hour) => hour.failures), color: COLORS.failures, kind: 'bars' }]}
            formatX={(seconds) => hourLabel(seconds - 1800)}
            formatY={formatCount}
            whole
            summary="Failures per hour over the last 24 hours."
          />
        )}
      </section>
      <LatencyCard stats={stats} />
    </div>
  );
}

/** The detect-to-notify histogram (cumulative in the API) as the share of versions in each band. */
function LatencyCard({ stats }: { stats: Stats }) {
  const { buckets, sum, count } = stats.detectToNotify;
  const bands = buckets.map((bucket, index) => ({ label: `≤ ${bucket.le} s`, value: bucket.count - (buckets[index - 1]?.count ?? 0), tone: 'ok' }));
  const beyond = count - (buckets.at(-1)?.count ?? 0);
  if (beyond > 0) bands.push({ label: `> ${buckets.at(-1)?.le ?? 0} s`, value: beyond, tone: 'bad' });
  return (
    <section class="card" aria-labelledby="detect-to-notify">
      <h2 id="detect-to-notify">Detection to announcement</h2>
      <p class="muted small">
        Versions by time from detection to the broker's confirm, all time{count > 0 ? `; mean ${(sum / count).toFixed(1)} s over ${formatCount(count)}` : ''}
      </p>
      <CategoryBars rows={count > 0 ? bands : []} format={formatCount} empty="Nothing announced yet." />
    </section>
  );
}

function QueueCharts() {
  const metrics = usePoll(loadMetrics, []);
  if (!metrics.data) return metrics.error !== undefined ? <LoadFailed error={metrics.error} /> : <Loading what="metrics" />;
  const { samples, depths, history } = metrics.data;
  const ages = ['transfer', 'notify'].map((queue) => ({ queue, seconds: metricValue(samples, 'sluice_queue_oldest_message_age_seconds', { queue }) }));
  return (
    <div class="chart-grid">
      <section class="card" aria-labelledby="queue-depths">
        <h2 id="queue-depths">Queue depths</h2>
        <p class="muted small">Messages waiting (visible) and being worked on (in flight), whole deployment</p>
        <CategoryBars
          rows={depths.flatMap((depth) => [
            { label: `${depth.queue} waiting`, value: depth.visible, tone: depth.queue.endsWith('dlq') ? 'bad' : 'info' },
            { label: `${depth.queue} in flight`, value: depth.inflight, tone: depth.queue.endsWith('dlq') ? 'bad' : 'busy' },
          ])}
          format={formatCount}
          empty="No queue reported."
        />
        <p class="muted small">Oldest waiting: {ages.map((age) => `${age.queue} ${Math.round(age.seconds)} s`).join(', ')}</p>
      </section>
      <section class="card" aria-labelledby="queue-history">
        <h2 id="queue-history">Queue depths while this page is open</h2>
        <p class="muted small">Waiting + in flight, last 10 minutes, sampled every refresh since {history.at[0] ? clock(history.at[0]) : 'now'}</p>
        <TimeChart
          x={history.at}
          xWindow={[Math.floor(Date.now() / 1000) - HISTORY_WINDOW_SECONDS, Math.floor(Date.now() / 1000)]}
          series={[
            { label: 'poll', values: history.work.poll, color: COLORS.poll, kind: 'line' },
            { label: 'transfer', values: history.work.transfer, color: COLORS.transfer, kind: 'line' },
            { label: 'notify', values: history.work.notify, color: COLORS.notify, kind: 'line' },
            { label: 'dead letters', values: history.deadLetters, color: COLORS.dlq, kind: 'line' },
          ]}
          formatX={clock}
          formatY={formatCount}
          whole
          summary={`Queue depths over the last ${history.at.length} samples.`}
        />
        <p class="muted small">
          Servers: {(['active', 'failing', 'inactive'] as const).map((state) => `${metricValue(samples, 'sluice_servers', { state })} ${state}`).join(', ')}
        </p>
      </section>
    </div>
  );
}

/** Counts, the last 24 h of ingestion (GET /stats, one server or all) and the queues (GET /metrics). */
export function ChartsView({ server }: { server: string }) {
  const servers = usePoll(loadAllServers, []);
  const serverId = server === ALL_SERVERS ? undefined : server;
  const stats = usePoll(() => api<Stats>('GET', `/stats${query({ serverId })}`), [serverId]);
  return (
    <section>
      <div class="heading">
        <h1>Charts</h1>
        <label class="inline">
          Server{' '}
          <select value={server} onChange={(event) => (location.hash = href({ view: 'charts', server: event.currentTarget.value }))}>
            <option value={ALL_SERVERS}>All servers</option>
            {servers.data?.map((entry) => (
              <option value={entry.id}>{entry.name}</option>
            ))}
          </select>
        </label>
      </div>
      {!stats.data && (stats.error !== undefined ? <LoadFailed error={stats.error} /> : <Loading what="stats" />)}
      {stats.data && (
        <>
          <div class="tiles" aria-label="File versions by status">
            {FILE_STATUSES.map((status) => (
              <Tile label={status} value={formatCount(stats.data!.counts[status])} tone={statusTone(status)} />
            ))}
            <Tile label="ingested, all time" value={formatCount(stats.data.totals.filesIngested)} note={formatBytes(stats.data.totals.bytesIngested)} />
          </div>
          <IngestCharts stats={stats.data} />
        </>
      )}
      <QueueCharts />
    </section>
  );
}
