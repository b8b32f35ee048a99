import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { OperationalMetrics } from '../ports';

/** The metric names alarms and the dashboard refer to (serverless.yml): one declaration of each. */
export const METRIC = {
  filesIngested: 'FilesIngested',
  bytesIngested: 'BytesIngested',
  transferDuration: 'TransferDuration',
  detectToNotify: 'DetectToNotify',
  transferRetries: 'TransferRetries',
  filesQuarantined: 'FilesQuarantined',
  filesVanished: 'FilesVanished',
  pollFailures: 'PollFailures',
  pollConsecutiveFailures: 'PollConsecutiveFailures',
  notificationsParked: 'NotificationsParked',
} as const;

const FAILURE_METRIC = { retrying: METRIC.transferRetries, quarantined: METRIC.filesQuarantined, vanished: METRIC.filesVanished } as const;

/**
 * OperationalMetrics as CloudWatch embedded metric format, through Powertools Metrics: each
 * invocation's metrics become one JSON line on stdout, which CloudWatch Logs turns into metrics (no
 * API call, no latency on the path). Namespace and the `service` dimension come from
 * POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME (serverless.yml: the stage's name), and
 * POWERTOOLS_METRICS_DISABLED turns it off. A failure is counted twice: under {service} with the
 * invocation's other metrics (what alarms watch) and, written at once, under {service, code} (the
 * dashboard's failures by code).
 */
export class EmfMetrics implements OperationalMetrics {
  readonly #metrics: Metrics;

  constructor(options: { namespace: string; service?: string }) {
    this.#metrics = new Metrics({ namespace: options.namespace, ...(options.service ? { serviceName: options.service } : {}) });
  }

  fileIngested(bytes: number, transferSeconds: number): void {
    this.#metrics.addMetric(METRIC.filesIngested, MetricUnit.Count, 1);
    this.#metrics.addMetric(METRIC.bytesIngested, MetricUnit.Bytes, bytes);
    this.#metrics.addMetric(METRIC.transferDuration, MetricUnit.Seconds, transferSeconds);
  }

  fileNotified(detectToNotifySeconds: number): void {
    this.#metrics.addMetric(METRIC.detectToNotify, MetricUnit.Seconds, detectToNotifySeconds);
  }

  fileFailed(code: string, outcome: 'retrying' | 'quarantined' | 'vanished'): void {
    this.#byCode(FAILURE_METRIC[outcome], code);
  }

  pollFailed(code: string, consecutiveFailures: number): void {
    this.#byCode(METRIC.pollFailures, code);
    // Its Maximum over a period is the longest run of failures of any server: the alarm's input.
    this.#metrics.addMetric(METRIC.pollConsecutiveFailures, MetricUnit.Count, consecutiveFailures);
  }

  notificationParked(code: string): void {
    this.#byCode(METRIC.notificationsParked, code);
  }

  publish(): void {
    // Without metrics Powertools would warn on every quiet invocation.
    if (this.#metrics.hasStoredMetrics()) this.#metrics.publishStoredMetrics();
  }

  #byCode(name: string, code: string): void {
    this.#metrics.addMetric(name, MetricUnit.Count, 1);
    const single = this.#metrics.singleMetric();
    single.addDimensions({ code });
    single.addMetric(name, MetricUnit.Count, 1);
  }
}
