import { formatExposition, histogramSamples, type MetricFamily } from '../domain/prometheus';
import { FILE_STATUSES } from '../domain/file-version';
import { type StatsSnapshot } from '../domain/stats';
import { NotFoundError } from '../errors';
import type { Clock, PollStateStore, QueueDepths, QueueName, ServerStore, StaleFiles, StatsReader } from '../ports';

export interface MetricsDeps {
  stats: StatsReader;
  servers: Pick<ServerStore, 'get' | 'list'>;
  pollState: Pick<PollStateStore, 'getMany'>;
  queues: QueueDepths;
  stale: Pick<StaleFiles, 'list'>;
  clock: Clock;
}

/** `GET /stats?serverId=`: one server's counters (404 for an unknown one) or the deployment's. */
export async function readStats(serverId: string | undefined, deps: Pick<MetricsDeps, 'stats' | 'servers' | 'clock'>): Promise<StatsSnapshot> {
  if (serverId !== undefined && !(await deps.servers.get(serverId))) throw new NotFoundError(`no server with id ${serverId}`);
  return deps.stats.read(serverId, deps.clock.now());
}

/** Servers by polling state: failing = active with its last poll(s) failed. One page per 100 servers (MAX_SERVERS bounds it). */
async function serverStates(deps: Pick<MetricsDeps, 'servers' | 'pollState'>): Promise<Record<'active' | 'failing' | 'inactive', number>> {
  const states = { active: 0, failing: 0, inactive: 0 };
  let nextToken: string | undefined;
  do {
    const page = await deps.servers.list(100, nextToken);
    const polls = await deps.pollState.getMany(page.items.filter((server) => server.active).map((server) => server.id));
    for (const server of page.items) {
      if (!server.active) states.inactive++;
      else if ((polls.get(server.id)?.consecutiveFailures ?? 0) > 0) states.failing++;
      else states.active++;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return states;
}

/**
 * Age of the oldest work waiting on a queue, from the ledger rather than SQS: the transfer queue's
 * oldest is the oldest `pending` version, the notify queue's the oldest `uploaded` one (byStatus is
 * sorted by statusSince: one item read each). SQS only has this as a CloudWatch metric, and peeking
 * a message would count as a receive towards its dead-letter limit; the other queues are left out.
 */
async function oldestAges(deps: Pick<MetricsDeps, 'stale' | 'clock'>): Promise<{ queue: QueueName; seconds: number }[]> {
  const now = deps.clock.now();
  const oldest = async (queue: QueueName, status: 'pending' | 'uploaded') => {
    const [file] = await deps.stale.list(status, now, 1);
    return { queue, seconds: file ? Math.max(0, (now.getTime() - Date.parse(file.statusSince)) / 1000) : 0 };
  };
  return Promise.all([oldest('transfer', 'pending'), oldest('notify', 'uploaded')]);
}

/**
 * `GET /metrics`, the Prometheus text format. Cheap to scrape: the stats items (2 requests), the
 * queues' attributes (6), the server list and poll states (2 per 100 servers), two index reads.
 */
export async function renderMetrics(deps: MetricsDeps): Promise<string> {
  const [stats, servers, depths, ages] = await Promise.all([deps.stats.read(undefined, deps.clock.now()), serverStates(deps), deps.queues.depths(), oldestAges(deps)]);
  const families: MetricFamily[] = [
    {
      name: 'sluice_files',
      help: 'File versions by status.',
      type: 'gauge',
      samples: FILE_STATUSES.map((status) => ({ labels: { status }, value: stats.counts[status] })),
    },
    { name: 'sluice_files_ingested_total', help: 'File versions stored and verified in the bucket.', type: 'counter', samples: [{ value: stats.totals.filesIngested }] },
    { name: 'sluice_bytes_ingested_total', help: 'Bytes of the file versions stored and verified.', type: 'counter', samples: [{ value: stats.totals.bytesIngested }] },
    {
      name: 'sluice_servers',
      help: 'Registered servers: active, failing (active, last poll failed) or inactive.',
      type: 'gauge',
      samples: (['active', 'failing', 'inactive'] as const).map((state) => ({ labels: { state }, value: servers[state] })),
    },
    {
      name: 'sluice_queue_messages',
      help: 'Approximate messages on each queue, visible or in flight (SQS).',
      type: 'gauge',
      samples: depths.flatMap(({ queue, visible, inflight }) => [
        { labels: { queue, state: 'visible' }, value: visible },
        { labels: { queue, state: 'inflight' }, value: inflight },
      ]),
    },
    {
      name: 'sluice_queue_oldest_message_age_seconds',
      help: 'Age of the oldest work waiting: transfer = oldest pending version, notify = oldest uploaded one (from the ledger).',
      type: 'gauge',
      samples: ages.map(({ queue, seconds }) => ({ labels: { queue }, value: seconds })),
    },
    {
      name: 'sluice_detect_to_notify_seconds',
      help: 'Time from a version being detected to its first confirmed announcement.',
      type: 'histogram',
      samples: histogramSamples(stats.detectToNotify),
    },
  ];
  return formatExposition(families);
}
