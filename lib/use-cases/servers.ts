import { ConflictError, errorSummary, NotFoundError, ValidationError } from '../errors';
import type { DestinationPolicy } from '../domain/destination';
import type { ServerCredentials } from '../domain/credentials';
import {
  afterIngestConflict,
  DEFAULT_POLL_INTERVAL_SECONDS,
  toServerView,
  type CreateServerInput,
  type ServerRecord,
  type ServerView,
  type UpdateServerInput,
} from '../domain/server';
import { SCHEDULE_WINDOW_SECONDS } from './schedule';
import type { Clock, IdGenerator, JobQueue, Logger, Page, PollState, PollStateStore, PollTick, SecretStore, ServerStore } from '../ports';
import { credentialsFrom, policyIssues } from './server-input';

export interface ServerDeps {
  servers: ServerStore;
  secrets: SecretStore;
  pollState: Pick<PollStateStore, 'get' | 'getMany' | 'forget' | 'forgetHostKey'>;
  /** A server registered or (re)activated gets its polls for the scheduler's current window at once. */
  ticks: Pick<JobQueue<PollTick>, 'sendEntries'>;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** Prefix of secret names; the server id is appended. */
  secretPrefix: string;
  /** Returns a reason when a private key cannot be parsed with the given passphrase. */
  checkPrivateKey(privateKey: string, passphrase?: string): string | undefined;
  /** Refuses address literals sluice may not connect to (names are judged at connect time). */
  destinations: Pick<DestinationPolicy, 'literalRefusal'>;
  /** Most servers this deployment holds (MAX_SERVERS); none when absent. */
  maxServers?: number;
  /** Smallest pollIntervalSeconds allowed here; also the floor of the default (5 s). */
  minPollIntervalSeconds: number;
}

/** Who asked for a change, for the audit trail (the HTTP request id). */
export interface ChangeContext {
  requestId?: string;
}

/**
 * One audit line per change of a server: what was done, to which server, which fields (names only,
 * never a value: secrets are named `password`, `privateKey`, `passphrase`), and the request.
 */
function audit(deps: Pick<ServerDeps, 'logger'>, action: 'server.created' | 'server.updated' | 'server.deleted' | 'server.credentials_rotated', serverId: string, fields: string[], context: ChangeContext) {
  deps.logger.info('audit', { action, serverId, fields, requestId: context.requestId ?? null });
}

/**
 * Registers a server. Its credentials go to a new secret first; the record (holding only the secret's
 * ARN) and the claim on its name are then written in one transaction. If the name is taken the secret
 * is deleted again and a ConflictError is raised.
 */
export async function createServer(input: CreateServerInput, deps: ServerDeps, context: ChangeContext = {}): Promise<ServerView> {
  const refused = policyIssues(input, deps);
  if (refused.length > 0) throw new ValidationError(refused);
  const credentials = credentialsFrom(input, deps.checkPrivateKey);
  if (credentials === undefined) {
    throw new ValidationError([{ field: 'password', message: 'exactly one of password or privateKey is required' }]);
  }
  const conflict = afterIngestConflict(input);
  if (conflict) throw new ValidationError([{ field: 'afterIngest', message: conflict }]);
  const id = deps.ids.newId();
  const now = deps.clock.now().toISOString();
  const secretArn = await deps.secrets.create(
    `${deps.secretPrefix}${id}`,
    credentials,
    `SFTP credentials of sluice server ${input.name} (${id})`,
  );
  const server: ServerRecord = {
    id,
    name: input.name,
    host: input.host,
    port: input.port,
    username: input.username,
    authMethod: credentials.type,
    secretArn,
    remoteDir: input.remoteDir,
    pattern: input.pattern,
    recursive: input.recursive,
    pollIntervalSeconds: input.pollIntervalSeconds ?? Math.max(DEFAULT_POLL_INTERVAL_SECONDS, deps.minPollIntervalSeconds),
    hostKey: input.hostKey ?? null,
    active: input.active,
    keyPrefix: input.keyPrefix ?? input.name,
    maxConnections: input.maxConnections,
    stableAfterSeconds: input.stableAfterSeconds,
    afterIngest: input.afterIngest,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  let result;
  try {
    const options = deps.maxServers !== undefined ? { maxServers: deps.maxServers } : {};
    result = await deps.servers.create(server, options);
    // The default prefix (the name) may be held by a server renamed away from this name: this one
    // then gets a prefix of its own rather than a place among the other's objects.
    if (result === 'prefix-taken' && input.keyPrefix === undefined) {
      server.keyPrefix = `${input.name}-${id.slice(0, 8)}`;
      result = await deps.servers.create(server, options);
    }
  } catch (error) {
    await deleteSecretQuietly(secretArn, id, deps, { force: true });
    throw error;
  }
  if (result === 'name-taken') {
    await deleteSecretQuietly(secretArn, id, deps, { force: true });
    throw new ConflictError(`a server named "${input.name}" already exists`, 'name');
  }
  if (result === 'prefix-taken') {
    await deleteSecretQuietly(secretArn, id, deps, { force: true });
    throw new ConflictError(`keyPrefix "${server.keyPrefix}" is, contains or lies inside another server's key prefix: each server's objects keep to their own`, 'keyPrefix');
  }
  if (result === 'limit-reached') {
    await deleteSecretQuietly(secretArn, id, deps, { force: true });
    throw new ConflictError(`this deployment holds its limit of ${deps.maxServers} servers (MAX_SERVERS): delete one first`);
  }
  deps.logger.info('server_created', { serverId: id, serverName: server.name });
  audit(deps, 'server.created', id, Object.keys(input).filter((field) => input[field as keyof CreateServerInput] !== undefined).sort(), context);
  if (server.active) await requestPolls(server, deps);
  return toServerView(server);
}

export async function getServer(id: string, deps: Pick<ServerDeps, 'servers' | 'pollState'>): Promise<ServerView> {
  const server = await requireServer(id, deps.servers);
  return toServerView(server, await deps.pollState.get(id));
}

export async function listServers(
  limit: number,
  nextToken: string | undefined,
  deps: Pick<ServerDeps, 'servers' | 'pollState'>,
): Promise<Page<ServerView>> {
  const page = await deps.servers.list(limit, nextToken);
  const states: Map<string, PollState> = page.items.length ? await deps.pollState.getMany(page.items.map((server) => server.id)) : new Map();
  return {
    items: page.items.map((server) => toServerView(server, states.get(server.id))),
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
  };
}

/**
 * Changes any field. New credentials replace the old secret value (a new secret version: rotation);
 * a rename moves the unique-name claim in the same transaction as the record update.
 *
 * Credentials are bound to their destination: a change of host, port or username must bring new
 * credentials, which go to a new secret that the record switches to in the same write as the new
 * destination, so no poller ever sends the old secret to the new place (or the new one to the old).
 * A new host or port also drops the recorded host key and the pinned one, unless the same change
 * pins a new one.
 */
export async function updateServer(id: string, input: UpdateServerInput, deps: ServerDeps, context: ChangeContext = {}): Promise<ServerView> {
  const refused = policyIssues(input, deps);
  if (refused.length > 0) throw new ValidationError(refused);
  const current = await requireServer(id, deps.servers);
  const credentials = credentialsFrom(input, deps.checkPrivateKey);
  const { password: _password, privateKey: _privateKey, passphrase: _passphrase, ...fields } = input;
  const moved = (fields.host !== undefined && fields.host !== current.host) || (fields.port !== undefined && fields.port !== current.port);
  const newDestination = moved || (fields.username !== undefined && fields.username !== current.username);
  if (newDestination && credentials === undefined) {
    throw new ValidationError([
      {
        field: 'password',
        message: 'a change of host, port or username needs new credentials (password or privateKey): stored credentials are only ever sent to the destination they were given for',
      },
    ]);
  }
  const next: ServerRecord = {
    ...current,
    ...fields,
    hostKey: fields.hostKey !== undefined ? fields.hostKey : moved ? null : current.hostKey,
    authMethod: credentials?.type ?? current.authMethod,
    updatedAt: deps.clock.now().toISOString(),
    version: current.version + 1,
  };
  const conflict = afterIngestConflict(next);
  if (conflict) throw new ValidationError([{ field: 'afterIngest', message: conflict }]);
  // A name of its own, whatever the version: a servers table restored to an earlier point brings
  // back versions whose secrets (created after that point) still hold their `/v<version>` names.
  // Eight characters, not six: a name ending in `-` and six characters reads as a full ARN's suffix.
  const newSecret = (credentials: ServerCredentials) =>
    deps.secrets.create(`${deps.secretPrefix}${id}/v${next.version}-${deps.ids.newId().replace(/-/g, '').slice(-8)}`, credentials, `SFTP credentials of sluice server ${next.name} (${id})`);
  if (credentials !== undefined && newDestination) {
    next.secretArn = await newSecret(credentials);
  } else if (credentials !== undefined) {
    if ((await deps.secrets.replace(current.secretArn, credentials)) === 'gone') {
      // Deleted, or scheduled for deletion (e.g. the record was restored from before a change of
      // destination): the new credentials get a secret of their own, switched to as a move's are.
      next.secretArn = await newSecret(credentials);
      deps.logger.warn('server_secret_recreated', { serverId: id, serverName: current.name, previousSecretArn: current.secretArn });
    }
    deps.logger.info('server_credentials_rotated', { serverId: id, serverName: current.name });
  }
  let result;
  try {
    result = await deps.servers.update(next, { version: current.version, name: current.name, keyPrefix: current.keyPrefix });
  } catch (error) {
    if (next.secretArn !== current.secretArn) await deleteSecretQuietly(next.secretArn, id, deps, { force: true });
    throw error;
  }
  if (result !== 'updated' && next.secretArn !== current.secretArn) await deleteSecretQuietly(next.secretArn, id, deps, { force: true });
  switch (result) {
    case 'updated': {
      if (next.secretArn !== current.secretArn) await deleteSecretQuietly(current.secretArn, id, deps);
      if (moved) await deps.pollState.forgetHostKey(id).catch((error: unknown) => deps.logger.warn('host_key_reset_failed', { serverId: id, error: errorSummary(error) }));
      const changed = Object.keys(input)
        .filter((field) => ['password', 'privateKey', 'passphrase'].includes(field) || JSON.stringify(input[field as keyof UpdateServerInput]) !== JSON.stringify(current[field as keyof ServerRecord]));
      if (moved && fields.hostKey === undefined && current.hostKey !== null) changed.push('hostKey');
      changed.sort();
      deps.logger.info('server_updated', { serverId: id, serverName: next.name, fields: Object.keys(input) });
      audit(deps, 'server.updated', id, changed, context);
      if (credentials !== undefined) audit(deps, 'server.credentials_rotated', id, Object.keys(input).filter((field) => ['password', 'privateKey', 'passphrase'].includes(field)).sort(), context);
      if (next.active && !current.active) await requestPolls(next, deps);
      return toServerView(next, await deps.pollState.get(id));
    }
    case 'name-taken':
      throw new ConflictError(`a server named "${next.name}" already exists`, 'name');
    case 'prefix-taken':
      throw new ConflictError(`keyPrefix "${next.keyPrefix}" is, contains or lies inside another server's key prefix`, 'keyPrefix');
    case 'stale':
      throw new ConflictError('the server was changed by another request; read it again and retry');
    case 'missing':
      throw new NotFoundError(`no server with id ${id}`);
  }
}

/** Removes a server and its secret. Its ingestion history (the file ledger) is kept. */
export async function deleteServer(id: string, deps: Pick<ServerDeps, 'servers' | 'secrets' | 'logger' | 'pollState'>, context: ChangeContext = {}): Promise<void> {
  const server = await requireServer(id, deps.servers);
  if (!(await deps.servers.delete(server))) throw new NotFoundError(`no server with id ${id}`);
  await deleteSecretQuietly(server.secretArn, id, deps);
  await deps.pollState.forget(id).catch((error: unknown) => deps.logger.warn('poll_state_cleanup_failed', { serverId: id, error: errorSummary(error) }));
  deps.logger.info('server_deleted', { serverId: id, serverName: server.name });
  audit(deps, 'server.deleted', id, [], context);
}

/**
 * A poll now and then at the server's interval until the scheduler's next run (at most one window):
 * otherwise a server registered just after a run waits up to a minute for its second poll (measured:
 * file written -> message p50 57 s). Best effort: the scheduler's next run polls the server anyway.
 */
async function requestPolls(server: Pick<ServerRecord, 'id' | 'pollIntervalSeconds'>, deps: Pick<ServerDeps, 'ticks' | 'clock' | 'logger'>): Promise<void> {
  const now = deps.clock.now().getTime();
  const entries = [];
  for (let offset = 0; offset < SCHEDULE_WINDOW_SECONDS; offset += server.pollIntervalSeconds) {
    entries.push({ message: { serverId: server.id, dueAt: new Date(now + offset * 1000).toISOString() }, delaySeconds: offset });
  }
  try {
    await deps.ticks.sendEntries(entries);
  } catch (error) {
    deps.logger.warn('poll_request_failed', { serverId: server.id, error: errorSummary(error) });
  }
}

async function requireServer(id: string, servers: ServerStore): Promise<ServerRecord> {
  const server = await servers.get(id);
  if (server === undefined) throw new NotFoundError(`no server with id ${id}`);
  return server;
}

/**
 * Deletes a secret: a used one is scheduled for deletion (recoverable for SECRET_RECOVERY_DAYS); one
 * rolled back before any use is deleted at once (`force`), since its name is used again when the
 * same change is retried. A secret we fail to delete is logged by ARN (never by value) for an operator.
 */
async function deleteSecretQuietly(
  secretArn: string,
  serverId: string,
  deps: Pick<ServerDeps, 'secrets' | 'logger'>,
  options: { force?: boolean } = {},
): Promise<void> {
  try {
    await deps.secrets.delete(secretArn, options);
  } catch (error) {
    deps.logger.error('secret_delete_failed', { serverId, secretArn, error: errorSummary(error) });
  }
}
