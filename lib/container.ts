import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { awsClients } from './adapters/aws-clients';
import { DynamoFileCatalog } from './adapters/dynamodb-file-catalog';
import { DynamoFileLedger } from './adapters/dynamodb-file-ledger';
import { DynamoConnectionSlots, DynamoPollStateStore } from './adapters/dynamodb-poll-state';
import { DynamoServerStore } from './adapters/dynamodb-server-store';
import { DynamoTransferLedger } from './adapters/dynamodb-transfer-ledger';
import { S3ObjectStore } from './adapters/s3-object-store';
import { SecretsManagerStore } from './adapters/secrets-manager-store';
import { Ssh2SftpConnector } from './adapters/sftp-connector';
import { SqsJobQueue } from './adapters/sqs-job-queue';
import { checkPrivateKey } from './adapters/ssh-keys';
import { config as loadProcessConfig, type Config } from './config';
import { createLogger } from './logger';
import type { NotifyJob, PollTick, TransferJob } from './ports';
import type { TransferDeps } from './use-cases/transfer';
import type { PollDeps } from './use-cases/poll';
import type { ScheduleDeps } from './use-cases/schedule';
import type { ServerDeps } from './use-cases/servers';

/** Composition root: every adapter is built here, once per cold start, from the parsed Config. */
export function buildContainer(config: Config) {
  const clients = awsClients(config);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'sluice' } });
  const secrets = new SecretsManagerStore({ client: clients.secrets });
  const servers = new DynamoServerStore({ client: clients.dynamodb, table: config.SERVERS_TABLE });
  const pollState = new DynamoPollStateStore({ client: clients.dynamodb, table: config.SERVERS_TABLE });
  const ticks = new SqsJobQueue<PollTick>({ client: clients.sqs, queueName: config.POLL_QUEUE_NAME });
  const clock = { now: () => new Date() };
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
  };
  const scheduleDeps: ScheduleDeps = { servers, pollState, ticks, clock, logger };
  const slots = new DynamoConnectionSlots({ client: clients.dynamodb, table: config.SERVERS_TABLE });
  const transfers = new SqsJobQueue<TransferJob>({ client: clients.sqs, queueName: config.TRANSFER_QUEUE_NAME });
  const sftp = new Ssh2SftpConnector({ tuning: { maxReadChannels: config.SFTP_MAX_READ_CHANNELS, slowLinkRttMs: config.SFTP_SLOW_LINK_RTT_MS } });
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const pollDeps: PollDeps = {
    servers,
    secrets,
    pollState,
    slots,
    ledger: new DynamoFileLedger({ client: clients.dynamodb, table: config.FILES_TABLE }),
    transfers,
    ticks,
    sftp,
    clock,
    logger,
    instanceId,
    leaseSeconds: config.POLL_LEASE_SECONDS,
    backoffCapSeconds: config.POLL_BACKOFF_CAP_SECONDS,
  };
  const MiB = 1024 * 1024;
  const transferDeps: TransferDeps = {
    ledger: new DynamoTransferLedger({ client: clients.dynamodb, table: config.FILES_TABLE }),
    servers,
    secrets,
    pollState,
    slots,
    sftp,
    store: new S3ObjectStore({ client: clients.s3, bucket: config.S3_BUCKET }),
    notifications: new SqsJobQueue<NotifyJob>({ client: clients.sqs, queueName: config.NOTIFY_QUEUE_NAME }),
    transfers,
    deadLetters: new SqsJobQueue<TransferJob>({ client: clients.sqs, queueName: `${config.TRANSFER_QUEUE_NAME}-dlq` }),
    logger,
    instanceId,
    leaseSeconds: config.TRANSFER_LEASE_SECONDS,
    maxAttempts: config.TRANSFER_MAX_ATTEMPTS,
    minPartBytes: config.S3_PART_SIZE_MIB * MiB,
    maxPartBytes: Math.max(config.S3_PART_SIZE_MIB, config.S3_MAX_PART_SIZE_MIB) * MiB,
    partConcurrency: config.TRANSFER_PART_CONCURRENCY,
    backoffCapSeconds: config.TRANSFER_BACKOFF_CAP_SECONDS,
  };
  const files = new DynamoFileCatalog({ client: clients.dynamodb, table: config.FILES_TABLE });
  return { config, clients, logger, serverDeps, scheduleDeps, pollDeps, transferDeps, transfers, files };
}
export type Container = ReturnType<typeof buildContainer>;

let container: Container | undefined;

/** The process-wide container; configuration errors surface here, at cold start. */
export function getContainer(): Container {
  container ??= buildContainer(loadProcessConfig());
  return container;
}
