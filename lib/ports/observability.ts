import type { FileStatus } from '../domain/file-version';
import type { StatsSnapshot } from '../domain/stats';

// Counters the API reads, metrics the platform reads, error reports, queue depths.

/**
 * Counters kept as versions change state (lib/domain/stats.ts), accumulated in memory and written
 * by `flush` (one write per touched stats item) at the end of each invocation: a scrape then
 * reads a few items instead of the files table.
 */
export interface StatsRecorder {
  /** A version moved from `from` (undefined: just created) to `to`. */
  transition(serverId: string, from: FileStatus | undefined, to: FileStatus): void;
  ingested(serverId: string, bytes: number, at: Date): void;
  failure(serverId: string, code: string, at: Date): void;
  notified(serverId: string, detectToNotifySeconds: number): void;
  /** Writes what was accumulated; deltas a write did not store are kept for the next flush. */
  flush(): Promise<void>;
}

/**
 * What the functions report to the platform's metrics (CloudWatch through embedded metric format on
 * AWS): the rates and latencies alarms and the dashboard watch, as opposed to StatsRecorder's
 * counters the API reads. Recorded as things happen, written by `publish` at the end of each
 * invocation. Failure codes become a dimension, so every metric is also kept without one.
 */
export interface OperationalMetrics {
  /** A version's object was stored and verified, `transferSeconds` after its transfer was claimed. */
  fileIngested(bytes: number, transferSeconds: number): void;
  fileNotified(detectToNotifySeconds: number): void;
  /**
   * A version's transfer attempt failed and is retried later, or the version ended `quarantined` or
   * `vanished` (a quarantine may come from detection: an unsafe name).
   */
  fileFailed(code: string, outcome: 'retrying' | 'quarantined' | 'vanished'): void;
  /** A poll failed; `consecutiveFailures` is the server's run of failed polls including this one. */
  pollFailed(code: string, consecutiveFailures: number): void;
  /** An announcement the broker refused too often, set aside for an operator. */
  notificationParked(code: string): void;
  publish(): void;
}

/**
 * Where error-level log lines are also reported (Sentry when SENTRY_DSN is set). It receives what the
 * log line holds, already redacted; it never throws and never waits on the caller's path.
 */
export interface ErrorReporter {
  report(event: string, fields: Record<string, unknown>): void;
  /** Sends what is pending, within a short deadline (the end of each invocation). */
  flush(): Promise<void>;
}

/** Reads back what StatsRecorder wrote. */
export interface StatsReader {
  /** One server's counters, or every server's together (`serverId` undefined), as of `now`. */
  read(serverId: string | undefined, now: Date): Promise<StatsSnapshot>;
}

export const QUEUES = ['poll', 'transfer', 'notify', 'poll-dlq', 'transfer-dlq', 'notify-dlq'] as const;

export type QueueName = (typeof QUEUES)[number];

/** Approximate depths of sluice's queues (SQS GetQueueAttributes). */
export interface QueueDepths {
  depths(): Promise<{ queue: QueueName; visible: number; inflight: number }[]>;
}

/** The sweeper's repair of drifted per-status counters (lib/use-cases/sweep.ts). */
export interface StatsReconciler {
  /** Takes the reconcile for `intervalSeconds`, fleet-wide; false when another sweeper did it within that. */
  claimReconcile(now: Date, intervalSeconds: number): Promise<boolean>;
  /** The per-status counters stored for each server (missing ones are zeros). */
  storedCounts(serverIds: string[]): Promise<Map<string, Record<FileStatus, number>>>;
  /** The versions of a server counted by status (its whole history, page by page); undefined past `deadline`. */
  countVersions(serverId: string, deadline: Date): Promise<Record<FileStatus, number> | undefined>;
  /** Adds `delta` to the server's and the deployment's per-status counters. */
  correct(serverId: string, delta: Partial<Record<FileStatus, number>>): Promise<void>;
}
