import type { DetectedFile } from '../domain/file-version';
import type { Snapshot } from '../domain/snapshot';

// The poller's ports: poll state, connection slots, the file ledger, the queues it feeds.

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
  /** Drops the host key recorded on first connection (the server moved to another host or port). */
  forgetHostKey(serverId: string): Promise<void>;
}

/** Fleet-wide cap on concurrent SFTP sessions per server. */
export interface ConnectionSlots {
  /** A slot token, or undefined when all `max` slots are held (and unexpired). */
  acquire(serverId: string, max: number, owner: string, until: Date): Promise<string | undefined>;
  release(serverId: string, slot: string, owner: string): Promise<void>;
  /** Extends a held slot (long transfers); false when it was lost. */
  renew(serverId: string, slot: string, owner: string, until: Date): Promise<boolean>;
}

export type LedgerCreateResult = { created: true } | { created: false; status: string };

/** The per-file-version ledger; its conditional create is the dedup lock. */
export interface FileLedger {
  createIfAbsent(file: DetectedFile): Promise<LedgerCreateResult>;
  /** Like createIfAbsent, but the version starts (and stays) `quarantined` with `error`: it gets no transfer. */
  createQuarantined(file: DetectedFile, error: { code: string; message: string }): Promise<LedgerCreateResult>;
}

export interface JobQueue<T> {
  /** Hides a received message for `seconds` (retry with backoff through SQS visibility). */
  retryAfter?(receiptHandle: string, seconds: number): Promise<void>;
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
