import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { AmqpPublisher, brokerUrlProblem } from './adapters/amqp-publisher';
import { awsClients } from './adapters/aws-clients';
import { documentClient } from './adapters/dynamodb-documents';
import { DynamoFileCatalog } from './adapters/dynamodb-file-catalog';
import { DynamoFileLedger } from './adapters/dynamodb-file-ledger';
import { DynamoNotificationLedger } from './adapters/dynamodb-notification-ledger';
import { DynamoStaleFiles } from './adapters/dynamodb-stale-files';
import { DynamoConnectionSlots } from './adapters/dynamodb-connection-slots';
import { DynamoPollStateStore } from './adapters/dynamodb-poll-state';
import { DynamoRedriveLedger } from './adapters/dynamodb-redrive-ledger';
import { DynamoServerStore } from './adapters/dynamodb-server-store';
import { DynamoStats, DynamoStatsReconciler } from './adapters/dynamodb-stats';
import { DynamoTableProbe } from './adapters/dynamodb-table-probe';
import { DynamoTransferLedger } from './adapters/dynamodb-transfer-ledger';
import { EmfMetrics } from './adapters/emf-metrics';
import { sweepArrayBuffersPromptly } from './adapters/native-garbage';
import { S3ObjectStore } from './adapters/s3-object-store';
import { SentryReporter } from './adapters/sentry-reporter';
import { SecretsManagerStore } from './adapters/secrets-manager-store';
import { secretString } from './adapters/secret-string';
import { Ssh2SftpConnector } from './adapters/sftp-connector';
import { SqsJobQueue } from './adapters/sqs-job-queue';
import { SqsQueueDepths } from './adapters/sqs-queue-depths';
import { checkPrivateKey } from './adapters/ssh-keys';
import { LOCAL_AMQP_URL } from './amqp-defaults';
import { config as loadProcessConfig, type Config } from './config';
import { DestinationPolicy } from './domain/destination';
import { createLogger } from './logger';
import type { Context } from 'aws-lambda';
import type { Logger, NotifyJob, PollTick, Publisher, TransferJob } from './ports';
import type { HealthDeps } from './use-cases/health';
import type { MetricsDeps } from './use-cases/metrics';
import type { NotifyDeps } from './use-cases/notify';
import type { SweepDeps } from './use-cases/sweep';
import type { TransferDeps } from './use-cases/transfer';
import type { PollDeps } from './use-cases/poll';
import type { RedriveDeps } from './use-cases/redrive';
import type { ScheduleDeps } from './use-cases/schedule';
import type { ServerDeps } from './use-cases/servers';
import type { ServerTestDeps } from './use-cases/server-test';

/** Composition root: every adapter is built here, once per cold start, from the parsed Config. */
export function buildContainer(config: Config) {
  // Before any transfer starts (a V8 flag: lib/adapters/native-garbage.ts). Set for every function:
  // only the transfer allocates much; for the others it only moves sweeping into the collection.
  sweepArrayBuffersPromptly();
  const clients = awsClients(config);
  const documents = documentClient(clients.dynamodb);
  const reporter = config.SENTRY_DSN ? new SentryReporter({ dsn: config.SENTRY_DSN, environment: config.POWERTOOLS_SERVICE_NAME }) : undefined;
  const logger = createLogger({ level: config.LOG_LEVEL, service: config.POWERTOOLS_SERVICE_NAME, ...(reporter ? { reporter } : {}) });
  const metrics = new EmfMetrics({ namespace: config.POWERTOOLS_METRICS_NAMESPACE, service: config.POWERTOOLS_SERVICE_NAME });
  const secrets = new SecretsManagerStore({ client: clients.secrets, recoveryWindowDays: config.SECRET_RECOVERY_DAYS });
  const servers = new DynamoServerStore({ documents, table: config.SERVERS_TABLE });
  const pollState = new DynamoPollStateStore({ documents, table: config.SERVERS_TABLE });
  const ticks = new SqsJobQueue<PollTick>({ client: clients.sqs, queueName: config.POLL_QUEUE_NAME });
  const clock = { now: () => new Date() };
  // One accumulator per environment: the use cases add to it, each handler flushes it when its invocation ends.
  const stats = new DynamoStats({ documents, table: config.FILES_TABLE, logger });
  const destinations = new DestinationPolicy(config.SFTP_DENY_CIDRS, config.SFTP_ALLOW_CIDRS);
  const serverDeps: ServerDeps = {
    servers,
    secrets,
    pollState,
    ticks,
    clock,
    ids: { newId: randomUUID },
    logger,
    secretPrefix: config.SERVER_SECRET_PREFIX,
    checkPrivateKey,
    destinations,
    ...(config.MAX_SERVERS !== undefined ? { maxServers: config.MAX_SERVERS } : {}),
    minPollIntervalSeconds: config.POLL_MIN_INTERVAL_SECONDS,
  };
  // The test route answers within an HTTP request (API Gateway: 30 s), so its deadlines are shorter.
  const testDeadlineMs = 25_000;
  const serverTestDeps: ServerTestDeps = {
    servers,
    secrets,
    pollState,
    sftp: new Ssh2SftpConnector({ requestTimeoutMs: Math.min(config.SFTP_REQUEST_TIMEOUT_SECONDS * 1000, 8000), destinations }),
    hostKeyPolicy: config.SFTP_HOST_KEY_POLICY,
    deadlineMs: testDeadlineMs,
    logger,
  };
  const scheduleDeps: ScheduleDeps = { servers, pollState, ticks, clock, logger };
  const slots = new DynamoConnectionSlots({ documents, table: config.SERVERS_TABLE });
  const transfers = new SqsJobQueue<TransferJob>({ client: clients.sqs, queueName: config.TRANSFER_QUEUE_NAME });
  const sftp = new Ssh2SftpConnector({
    requestTimeoutMs: config.SFTP_REQUEST_TIMEOUT_SECONDS * 1000,
    destinations,
    tuning: { maxReadChannels: config.SFTP_MAX_READ_CHANNELS, slowLinkRttMs: config.SFTP_SLOW_LINK_RTT_MS },
  });
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const pollDeps: PollDeps = {
    servers,
    secrets,
    pollState,
    slots,
    ledger: new DynamoFileLedger({ documents, table: config.FILES_TABLE }),
    transfers,
    ticks,
    sftp,
    clock,
    logger,
    instanceId,
    leaseSeconds: config.POLL_LEASE_SECONDS,
    backoffCapSeconds: config.POLL_BACKOFF_CAP_SECONDS,
    listingBounds: { maxEntries: config.POLL_MAX_ENTRIES, maxDepth: config.POLL_MAX_DEPTH, maxSeconds: config.POLL_LISTING_TIMEOUT_SECONDS },
    hostKeyPolicy: config.SFTP_HOST_KEY_POLICY,
    stats,
    metrics,
  };
  const MiB = 1024 * 1024;
  const notifications = new SqsJobQueue<NotifyJob>({ client: clients.sqs, queueName: config.NOTIFY_QUEUE_NAME });
  const transferDeps: TransferDeps = {
    ledger: new DynamoTransferLedger({ documents, table: config.FILES_TABLE }),
    servers,
    secrets,
    pollState,
    slots,
    sftp,
    store: new S3ObjectStore({ client: clients.s3, bucket: config.S3_BUCKET, tagObjects: config.S3_OBJECT_TAGS }),
    notifications,
    transfers,
    deadLetters: new SqsJobQueue<TransferJob>({ client: clients.sqs, queueName: `${config.TRANSFER_QUEUE_NAME}-dlq` }),
    logger,
    instanceId,
    leaseSeconds: config.TRANSFER_LEASE_SECONDS,
    maxAttempts: config.TRANSFER_MAX_ATTEMPTS,
    minPartBytes: config.S3_PART_SIZE_MIB * MiB,
    maxPartBytes: Math.max(config.S3_PART_SIZE_MIB, config.S3_MAX_PART_SIZE_MIB) * MiB,
    partConcurrency: config.TRANSFER_PART_CONCURRENCY,
    checkpointIntervalMs: config.TRANSFER_CHECKPOINT_SECONDS * 1000,
    backoffCapSeconds: config.TRANSFER_BACKOFF_CAP_SECONDS,
    hostKeyPolicy: config.SFTP_HOST_KEY_POLICY,
    stats,
    metrics,
    clock,
  };
  const files = new DynamoFileCatalog({ documents, table: config.FILES_TABLE });
  const notifyDeps: NotifyDeps = {
    files,
    ledger: new DynamoNotificationLedger({ documents, table: config.FILES_TABLE }),
    publisher: brokerPublisher(config, clients, logger),
    logger,
    leaseSeconds: config.NOTIFY_LEASE_SECONDS,
    backoffCapSeconds: config.NOTIFY_BACKOFF_CAP_SECONDS,
    maxRejections: config.NOTIFY_MAX_REJECTIONS,
    stats,
    metrics,
    clock,
  };
  const sweepDeps: SweepDeps = {
    stale: new DynamoStaleFiles({ documents, table: config.FILES_TABLE }),
    notifications,
    transfers,
    store: transferDeps.store,
    logger,
    notifyAfterSeconds: config.SWEEP_NOTIFY_AFTER_SECONDS,
    transferStuckAfterSeconds: config.SWEEP_TRANSFER_AFTER_SECONDS,
    orphanUploadAfterSeconds: config.SWEEP_ORPHAN_UPLOAD_AFTER_HOURS * 3600,
    limit: 1000,
    // Within the sweeper's 120 s timeout, after the repairs above.
    reconcile: { stats: new DynamoStatsReconciler({ documents, table: config.FILES_TABLE }), servers, everySeconds: 3600, budgetMs: 60_000 },
  };
  const redriveDeps: RedriveDeps = {
    files,
    ledger: new DynamoRedriveLedger({ documents, table: config.FILES_TABLE }),
    servers,
    transfers,
    notifications,
    clock,
    logger,
    // The HTTP API answers within 30 s (the functions' timeout is 29 s): leave room for the answer.
    budgetMs: 20_000,
    stats,
  };
  const metricsDeps: MetricsDeps = {
    stats,
    servers,
    pollState,
    queues: new SqsQueueDepths({
      client: clients.sqs,
      queueNames: {
        poll: config.POLL_QUEUE_NAME,
        transfer: config.TRANSFER_QUEUE_NAME,
        notify: config.NOTIFY_QUEUE_NAME,
        'poll-dlq': `${config.POLL_QUEUE_NAME}-dlq`,
        'transfer-dlq': `${config.TRANSFER_QUEUE_NAME}-dlq`,
        'notify-dlq': `${config.NOTIFY_QUEUE_NAME}-dlq`,
      },
    }),
    stale: sweepDeps.stale,
    clock,
  };
  /** The token API callers must present: SLUICE_API_TOKEN, or its secret (re-read every few minutes, for rotation). */
  const apiToken = secretString(
    config.SLUICE_API_TOKEN !== undefined
      ? { kind: 'static', value: config.SLUICE_API_TOKEN }
      : { kind: 'secret', secretId: config.API_TOKEN_SECRET_ID!, client: clients.secrets },
  );
  const healthDeps: HealthDeps = { probe: new DynamoTableProbe({ client: clients.dynamodb, table: config.SERVERS_TABLE }), logger };
  /** What every handler does around an invocation (lib/ports.ts StatsRecorder, OperationalMetrics). */
  const invocation = {
    /** Log lines from here on carry the invocation's request id. */
    begin(context: Context | undefined) {
      if (context?.awsRequestId) logger.setInvocation(context);
    },
    /** The status counters written (one write per touched item), the invocation's metrics, pending error reports. */
    async end() {
      try {
        await stats.flush();
      } finally {
        metrics.publish();
        await reporter?.flush();
      }
    },
  };
  return { config, clients, logger, invocation, apiToken, healthDeps, serverDeps, serverTestDeps, scheduleDeps, pollDeps, transferDeps, notifyDeps, sweepDeps, redriveDeps, metricsDeps, stats, transfers, notifications, files };
}
export type Container = ReturnType<typeof buildContainer>;

/**
 * The broker publisher, connected on first use and kept for the process's life (warm invocations
 * reuse its connection). On AWS the URL, which carries credentials, comes from Secrets Manager.
 */
function brokerPublisher(config: Config, clients: ReturnType<typeof awsClients>, logger: Logger): Publisher {
  const url = secretString(
    config.AMQP_URL === undefined && config.AMQP_URL_SECRET_ID !== undefined
      ? { kind: 'secret', secretId: config.AMQP_URL_SECRET_ID, client: clients.secrets, ttlMs: Number.POSITIVE_INFINITY }
      : { kind: 'static', value: config.AMQP_URL ?? LOCAL_AMQP_URL },
    brokerUrlProblem,
  );
  let publisher: Promise<AmqpPublisher> | undefined;
  const connected = () =>
    (publisher ??= url().then(
      (resolved) =>
        new AmqpPublisher({
          url: resolved,
          exchange: config.AMQP_EXCHANGE,
          routingKey: config.AMQP_ROUTING_KEY,
          mandatory: config.AMQP_MANDATORY,
          declareExchange: config.AMQP_DECLARE_EXCHANGE,
          logger,
          ...(config.AMQP_CA_FILE ? { socketOptions: { ca: readFileSync(config.AMQP_CA_FILE) } } : {}),
        }),
      (error: unknown) => {
        publisher = undefined;
        throw error;
      },
    ));
  return {
    publish: async (message) => (await connected()).publish(message),
    close: async () => {
      if (publisher) await (await publisher).close();
    },
  };
}

let container: Container | undefined;

/** The process-wide container; configuration errors surface here, at cold start. */
export function getContainer(): Container {
  container ??= buildContainer(loadProcessConfig());
  return container;
}
