import type { Snapshot } from '../../lib/domain/snapshot';
import { emptySnapshot } from '../../lib/domain/snapshot';
import type { Clock, DetectedFile, FileLedger, LedgerCreateResult, PollOutcome, PollState, PollStateStore } from '../../lib/ports';
import { InMemoryPollStateStore } from './fakes';

const systemClock: Clock = { now: () => new Date() };

/**
 * PollStateStore in memory, with the DynamoDB adapter's contract: a lease free or lapsed is taken
 * when the server is due by `dueBy`; `finish` records the outcome and the snapshot only while the
 * lease is still the caller's (a lost lease leaves the other poller's state standing).
 */
export class InMemoryPollLeases extends InMemoryPollStateStore implements PollStateStore {
  readonly leases = new Map<string, { owner: string; until: number }>();
  readonly snapshots = new Map<string, Snapshot>();
  /** Every `finish` that was recorded, in order. */
  readonly outcomes: { serverId: string; outcome: PollOutcome; snapshot: boolean }[] = [];
  private snapshotCount = 0;

  constructor(private readonly clock: Clock = systemClock) {
    super();
  }

  async acquireLease(serverId: string, owner: string, leaseUntil: Date, dueBy?: Date) {
    const now = this.clock.now().getTime();
    const lease = this.leases.get(serverId);
    if (lease && lease.until >= now) return 'busy' as const;
    const state: PollState = this.states.get(serverId) ?? { serverId, consecutiveFailures: 0 };
    if (state.nextPollAt !== undefined && state.nextPollAt > (dueBy ?? new Date('9999-12-31T00:00:00Z')).toISOString()) return 'not-due' as const;
    this.leases.set(serverId, { owner, until: leaseUntil.getTime() });
    this.states.set(serverId, state);
    return structuredClone(state);
  }

  async releaseLease(serverId: string, owner: string) {
    if (this.leases.get(serverId)?.owner === owner) this.leases.delete(serverId);
  }

  async loadSnapshot(state: PollState) {
    const snapshot = state.snapshotRef === undefined ? undefined : this.snapshots.get(state.snapshotRef);
    return snapshot ? structuredClone(snapshot) : emptySnapshot();
  }

  async finish(serverId: string, owner: string, outcome: PollOutcome, snapshot?: Snapshot) {
    if (this.leases.get(serverId)?.owner !== owner) return;
    this.leases.delete(serverId);
    const state = this.states.get(serverId) ?? { serverId, consecutiveFailures: 0 };
    const next: PollState = { ...state, ...outcome, ...(outcome.lastError === null ? { lastSuccessAt: outcome.lastPollAt } : {}) };
    if (snapshot) {
      next.snapshotRef = `snapshot-${++this.snapshotCount}`;
      this.snapshots.set(next.snapshotRef, structuredClone(snapshot));
    }
    this.states.set(serverId, next);
    this.outcomes.push({ serverId, outcome: structuredClone(outcome), snapshot: snapshot !== undefined });
  }

  async recordHostKey(serverId: string, fingerprint: string) {
    const state = this.states.get(serverId) ?? { serverId, consecutiveFailures: 0 };
    if (state.observedHostKey !== undefined) return false;
    this.states.set(serverId, { ...state, observedHostKey: fingerprint });
    return true;
  }
}

/** FileLedger in memory: the conditional create on the file id is the dedup lock. */
export class InMemoryFileLedger implements FileLedger {
  readonly versions = new Map<string, DetectedFile & { status: string; lastError?: { code: string; message: string } }>();
  /** Creates of these file ids throw (a write that failed). */
  readonly failing = new Set<string>();

  async createIfAbsent(file: DetectedFile): Promise<LedgerCreateResult> {
    return this.create(file, 'pending');
  }

  async createQuarantined(file: DetectedFile, error: { code: string; message: string }): Promise<LedgerCreateResult> {
    return this.create(file, 'quarantined', error);
  }

  private create(file: DetectedFile, status: string, lastError?: { code: string; message: string }): LedgerCreateResult {
    if (this.failing.has(file.fileId)) throw new Error('ProvisionedThroughputExceededException');
    const existing = this.versions.get(file.fileId);
    if (existing) return { created: false, status: existing.status };
    this.versions.set(file.fileId, { ...structuredClone(file), status, ...(lastError ? { lastError } : {}) });
    return { created: true };
  }
}
