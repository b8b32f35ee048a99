import type { ServerRecord } from './domain/server';
import type { ServerCredentials } from './domain/credentials';
import type { ListedFile } from './domain/file-identity';
import type { ListingFilter } from './domain/listing-filter';
import type { Snapshot } from './domain/snapshot';

/** Result of a conditional write that can lose a race: a lost race is a value, not an exception. */
export type PutResult = 'created' | 'name-taken';
export type UpdateResult = 'updated' | 'name-taken' | 'stale' | 'missing';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; undefined on the last page. */
  nextToken?: string;
}

/** Persistence of server registrations. Names are unique across all servers. */
export interface ServerStore {
  /** Creates the server and claims its name atomically. */
  create(server: ServerRecord): Promise<PutResult>;
  get(id: string): Promise<ServerRecord | undefined>;
  /** Servers in creation order. Throws InvalidCursorError for a cursor it did not issue. */
  list(limit: number, nextToken?: string): Promise<Page<ServerRecord>>;
  /** Replaces the server if its stored `version` is still `expectedVersion`; moves the name claim on rename. */
  update(server: ServerRecord, expectedVersion: number, previousName: string): Promise<UpdateResult>;
  /** Deletes the server and releases its name; false if it did not exist. */
  delete(server: ServerRecord): Promise<boolean>;
}

/** Credential storage (AWS Secrets Manager). Values never leave this port except to open a connection. */
export interface SecretStore {
  /** Creates a secret and returns its ARN. */
  create(name: string, credentials: ServerCredentials, description: string): Promise<string>;
  /** Stores a new version that replaces the current value. */
  replace(arn: string, credentials: ServerCredentials): Promise<void>;
  read(arn: string): Promise<ServerCredentials>;
  /** Deletes at once, without a recovery window; missing secrets are not an error. */
  delete(arn: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newId(): string;
}

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

// --- Detection -------------------------------------------------------------------------------

/** A server's polling status, kept apart from its registration so API writes never clobber it. */
export interface PollState {
  serverId: string;
  lastPollAt?: string;
  lastSuccessAt?: string;
  lastError?: { code: string; message: string; at: string } | null;
  consecutiveFailures: number;
  nextPollAt?: string;
  /** SHA-256 fingerprint of the host key seen on first connection (when no hostKey is pinned). */
  observedHostKey?: string;
  /** Where the current snapshot lives (opaque to the domain). */
  snapshotRef?: string;
  filesSeen?: number;
}

export interface PollOutcome {
  lastPollAt: string;
  lastError: PollState['lastError'];
  consecutiveFailures: number;
  nextPollAt: string;
  filesSeen?: number;
}

/** Polling status, the per-server poll lease, and the compact listing snapshot. */
export interface PollStateStore {
  /**
   * Takes the server's poll lease when it is free or has lapsed (a crashed poller's lease expires)
   * and the server is due by `dueBy` (backoff), returning the current state; 'busy' when another
   * poller holds the lease, 'not-due' when the server's nextPollAt is later.
   */
  acquireLease(serverId: string, owner: string, leaseUntil: Date, dueBy?: Date): Promise<PollState | 'busy' | 'not-due'>;
  releaseLease(serverId: string, owner: string): Promise<void>;
  loadSnapshot(state: PollState): Promise<Snapshot>;
  /** Records the outcome (and a new snapshot, when given) and releases the lease if still ours. */
  finish(serverId: string, owner: string, outcome: PollOutcome, snapshot?: Snapshot): Promise<void>;
  /** Records the first host key seen; false if one was recorded meanwhile. */
  recordHostKey(serverId: string, fingerprint: string): Promise<boolean>;
  get(serverId: string): Promise<PollState | undefined>;
  getMany(serverIds: string[]): Promise<Map<string, PollState>>;
  /** Removes everything polling kept for a server (on deletion). */
  forget(serverId: string): Promise<void>;
}

/** Fleet-wide cap on concurrent SFTP sessions per server. */
export interface ConnectionSlots {
  /** A slot token, or undefined when all `max` slots are held (and unexpired). */
  acquire(serverId: string, max: number, owner: string, until: Date): Promise<string | undefined>;
  release(serverId: string, slot: string, owner: string): Promise<void>;
}

/** A ledger entry as created at detection. */
export interface DetectedFile {
  fileId: string;
  serverId: string;
  serverName: string;
  remotePath: string;
  relativePath: string;
  size: number;
  mtime: number;
  discoveredAt: string;
}

export type LedgerCreateResult = { created: true } | { created: false; status: string };

/** The per-file-version ledger; its conditional create is the dedup lock. */
export interface FileLedger {
  createIfAbsent(file: DetectedFile): Promise<LedgerCreateResult>;
}

export interface TransferJob {
  fileId: string;
  serverId: string;
  remotePath: string;
  size: number;
  mtime: number;
}

export interface JobQueue<T> {
  /** Sends in batches of ten; resolves when every message is accepted. */
  sendAll(messages: T[], delaySeconds?: number): Promise<void>;
  /** Like sendAll, with a delay (0–900 s) per message. */
  sendEntries(entries: { message: T; delaySeconds?: number }[]): Promise<void>;
}

export interface PollTick {
  serverId: string;
  /** When this poll is due (ISO time); ticks that arrive early for a backed-off server are skipped. */
  dueAt: string;
}

/** One open SFTP session on a server. */
export interface SftpSession {
  /** Regular files under `dir` (recursively if asked), streamed page by page. */
  listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter }): AsyncIterable<ListedFile>;
  close(): Promise<void>;
}

export interface SftpConnector {
  /**
   * Opens a session. With `expectedHostKey` set, a server presenting another key is refused with a
   * SftpError of code `host_key_mismatch`. Resolves with the fingerprint the server presented.
   */
  connect(
    server: ServerRecord,
    credentials: ServerCredentials,
    expectedHostKey: string | undefined,
  ): Promise<{ session: SftpSession; hostKey: string }>;
}
