import { FILE_STATUSES, type FileStatus } from './file-version';

/** Upper bounds (seconds) of the detect-to-notify histogram's buckets; `+Inf` follows them. */
export const DETECT_TO_NOTIFY_BUCKETS = [1, 2, 5, 10, 30, 60, 300, 1800] as const;

/** The 24 h window of /stats is this many hourly buckets: the current hour and the 23 before it. */
export const WINDOW_HOURS = 24;

/** Where a delta lands: the deployment-wide totals or one server's, all time or one UTC hour. */
export interface StatsScope {
  /** `undefined`: every server together. */
  serverId?: string;
  /** `yyyy-mm-ddThh` (UTC); undefined for the all-time counters. */
  hour?: string;
}

/**
 * Counter deltas of one stats item. Attribute names are the storage's too: `s_<status>` per status,
 * `f_<code>` failures per error code, `h_<i>` the (non-cumulative) count of histogram bucket i (i =
 * bounds.length is +Inf), `hSum`/`hCount`, `ingestedFiles`/`ingestedBytes`.
 */
export type Counters = Record<string, number>;

export function hourOf(at: Date): string {
  return at.toISOString().slice(0, 13);
}

/** The hours of the window ending at `now`, oldest first. */
export function windowHours(now: Date): string[] {
  const hours: string[] = [];
  for (let back = WINDOW_HOURS - 1; back >= 0; back--) hours.push(hourOf(new Date(now.getTime() - back * 3_600_000)));
  return hours;
}

export function bucketIndex(seconds: number): number {
  const index = DETECT_TO_NOTIFY_BUCKETS.findIndex((bound) => seconds <= bound);
  return index === -1 ? DETECT_TO_NOTIFY_BUCKETS.length : index;
}

/**
 * Accumulates the stats deltas of one invocation in memory; `drain` hands them over (and forgets
 * them) for one write per touched item. Every change goes to the deployment-wide and the server's
 * items, so a scrape reads one item and /stats of a server reads its own.
 */
export class StatsDeltas {
  private pending = new Map<string, { scope: StatsScope; counters: Counters }>();

  /** A version moved from `from` (undefined: it was just created) to `to`. */
  transition(serverId: string, from: FileStatus | undefined, to: FileStatus): void {
    if (from === to) return;
    for (const scope of this.totals(serverId)) {
      if (from) this.add(scope, `s_${from}`, -1);
      this.add(scope, `s_${to}`, 1);
    }
  }

  /** Corrects a status's counter by `delta` (the sweeper's reconcile). */
  adjust(serverId: string, status: FileStatus, delta: number): void {
    for (const scope of this.totals(serverId)) this.add(scope, `s_${status}`, delta);
  }

  ingested(serverId: string, bytes: number, at: Date): void {
    for (const scope of this.everywhere(serverId, at)) {
      this.add(scope, 'ingestedFiles', 1);
      this.add(scope, 'ingestedBytes', bytes);
    }
  }

  /** A transfer attempt failed or a version was quarantined, with this error code. */
  failure(serverId: string, code: string, at: Date): void {
    for (const scope of this.everywhere(serverId, at)) this.add(scope, `f_${code}`, 1);
  }

  /** A version's first confirmed announcement, this long after it was detected. */
  notified(serverId: string, detectToNotifySeconds: number): void {
    const seconds = Math.max(0, detectToNotifySeconds);
    for (const scope of this.totals(serverId)) {
      this.add(scope, `h_${bucketIndex(seconds)}`, 1);
      this.add(scope, 'hSum', seconds);
      this.add(scope, 'hCount', 1);
    }
  }

  get size(): number {
    return this.pending.size;
  }

  drain(): { scope: StatsScope; counters: Counters }[] {
    const drained = [...this.pending.values()].filter(({ counters }) => Object.values(counters).some((value) => value !== 0));
    this.pending = new Map();
    return drained;
  }

  /** Puts back deltas a failed write did not store, so the next flush tries them again. */
  restore(items: { scope: StatsScope; counters: Counters }[]): void {
    for (const { scope, counters } of items) for (const [name, value] of Object.entries(counters)) this.add(scope, name, value);
  }

  private totals(serverId: string): StatsScope[] {
    return [{}, { serverId }];
  }

  private everywhere(serverId: string, at: Date): StatsScope[] {
    const hour = hourOf(at);
    return [...this.totals(serverId), { hour }, { serverId, hour }];
  }

  private add(scope: StatsScope, name: string, value: number): void {
    const key = `${scope.serverId ?? ''}\u0000${scope.hour ?? ''}`;
    let entry = this.pending.get(key);
    if (!entry) this.pending.set(key, (entry = { scope, counters: {} }));
    entry.counters[name] = (entry.counters[name] ?? 0) + value;
  }
}

/** One hour of the 24 h window (charts): `hour` is its start, ISO 8601; failures of every code together. */
export interface HourStats {
  hour: string;
  filesIngested: number;
  bytesIngested: number;
  failures: number;
}

/** What /stats shows and /metrics exposes, read back from the stats items. */
export interface StatsSnapshot {
  serverId: string | null;
  counts: Record<FileStatus, number>;
  totals: { filesIngested: number; bytesIngested: number };
  last24h: { since: string; filesIngested: number; bytesIngested: number; failures: Record<string, number>; hourly: HourStats[] };
  detectToNotify: { buckets: { le: number; count: number }[]; sum: number; count: number };
}

/**
 * Builds the snapshot from the all-time item and the window's hourly items (`window`: every hour of
 * windowHours, oldest first, with its item's counters when it has one). Counts are clamped at
 * zero: a crash between a transition and the flush can leave a counter a little off (see README).
 */
export function snapshotOf(serverId: string | undefined, total: Counters | undefined, window: { hour: string; counters?: Counters | undefined }[]): StatsSnapshot {
  const value = (counters: Counters | undefined, name: string) => counters?.[name] ?? 0;
  const counts = Object.fromEntries(FILE_STATUSES.map((status) => [status, Math.max(0, value(total, `s_${status}`))])) as Record<FileStatus, number>;
  const failures: Record<string, number> = {};
  const hourly = window.map(({ hour, counters = {} }) => {
    let failed = 0;
    for (const [name, count] of Object.entries(counters)) {
      if (!name.startsWith('f_') || count === 0) continue;
      failures[name.slice(2)] = (failures[name.slice(2)] ?? 0) + count;
      failed += count;
    }
    return { hour: hourStart(hour), filesIngested: value(counters, 'ingestedFiles'), bytesIngested: value(counters, 'ingestedBytes'), failures: failed };
  });
  let cumulative = 0;
  const buckets = DETECT_TO_NOTIFY_BUCKETS.map((le, index) => ({ le, count: (cumulative += value(total, `h_${index}`)) }));
  return {
    serverId: serverId ?? null,
    counts,
    totals: { filesIngested: value(total, 'ingestedFiles'), bytesIngested: value(total, 'ingestedBytes') },
    last24h: {
      since: hourly[0]?.hour ?? '',
      filesIngested: hourly.reduce((sum, hour) => sum + hour.filesIngested, 0),
      bytesIngested: hourly.reduce((sum, hour) => sum + hour.bytesIngested, 0),
      failures,
      hourly,
    },
    detectToNotify: { buckets, sum: value(total, 'hSum'), count: value(total, 'hCount') },
  };
}

/** `yyyy-mm-ddThh` -> the ISO 8601 start of that UTC hour. */
export function hourStart(hour: string): string {
  return `${hour}:00:00.000Z`;
}
