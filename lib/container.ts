import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { awsClients } from './adapters/aws-clients';
import { DynamoFileLedger } from './adapters/dynamodb-file-ledger';
import { DynamoConnectionSlots, DynamoPollStateStore } from './adapters/dynamodb-poll-state';
import { DynamoServerStore } from './adapters/dynamodb-server-store';
import { SecretsManagerStore } from './adapters/secrets-manager-store';
import { Ssh2SftpConnector } from './adapters/sftp-connector';
import { SqsJobQueue } from './adapters/sqs-job-queue';
import { checkPrivateKey } from './adapters/ssh-keys';
import { config as loadProcessConfig, type Config } from './config';
import { createLogger } from './logger';
import type { PollTick, TransferJob } from './ports';
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
  const pollDeps: PollDeps = {
    servers,
    secrets,
    pollState,
    slots: new DynamoConnectionSlots({ client: clients.dynamodb, table: config.SERVERS_TABLE }),
    ledger: new DynamoFileLedger({ client: clients.dynamodb, table: config.FILES_TABLE }),
    transfers: new SqsJobQueue<TransferJob>({ client: clients.sqs, queueName: config.TRANSFER_QUEUE_NAME }),
    ticks,
    sftp: new Ssh2SftpConnector(),
    clock,
    logger,
    instanceId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    leaseSeconds: config.POLL_LEASE_SECONDS,
    backoffCapSeconds: config.POLL_BACKOFF_CAP_SECONDS,
  };
  return { config, clients, logger, serverDeps, scheduleDeps, pollDeps };
}
export type Container = ReturnType<typeof buildContainer>;

let container: Container | undefined;

/** The process-wide container; configuration errors surface here, at cold start. */
export function getContainer(): Container {
  container ??= buildContainer(loadProcessConfig());
  return container;
}
