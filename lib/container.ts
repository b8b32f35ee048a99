import { randomUUID } from 'node:crypto';
import { awsClients } from './adapters/aws-clients';
import { DynamoServerStore } from './adapters/dynamodb-server-store';
import { SecretsManagerStore } from './adapters/secrets-manager-store';
import { checkPrivateKey } from './adapters/ssh-keys';
import { config as loadProcessConfig, type Config } from './config';
import { createLogger } from './logger';
import type { ServerDeps } from './use-cases/servers';

/** Composition root: every adapter is built here, once per cold start, from the parsed Config. */
export function buildContainer(config: Config) {
  const clients = awsClients(config);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'sluice' } });
  const secrets = new SecretsManagerStore({ client: clients.secrets });
  const serverDeps: ServerDeps = {
    servers: new DynamoServerStore({ client: clients.dynamodb, table: config.SERVERS_TABLE }),
    secrets,
    clock: { now: () => new Date() },
    ids: { newId: randomUUID },
    logger,
    secretPrefix: config.SERVER_SECRET_PREFIX,
    checkPrivateKey,
  };
  return { config, clients, logger, serverDeps };
}
export type Container = ReturnType<typeof buildContainer>;

let container: Container | undefined;

/** The process-wide container; configuration errors surface here, at cold start. */
export function getContainer(): Container {
  container ??= buildContainer(loadProcessConfig());
  return container;
}
