import type { HostKeyPolicy } from '../domain/host-key';
import type { ServerRecord } from '../domain/server';
import type { ConnectionSlots, PollStateStore, SecretStore, SftpConnector, SftpSession } from '../ports';
import { openSession } from './open-session';

export interface SessionDeps {
  slots: ConnectionSlots;
  secrets: SecretStore;
  pollState: Pick<PollStateStore, 'get'>;
  sftp: SftpConnector;
  instanceId: string;
  hostKeyPolicy: HostKeyPolicy;
}

/** A session lent to a transfer, with the connection slot it holds. */
export interface BorrowedSession {
  serverId: string;
  slot: string;
  /** Until when the slot is held (as last taken or renewed). */
  slotUntil: Date;
  session: SftpSession;
}

/** How long a server found at its connection cap is taken to stay there. */
const FULL_SERVER_MEMORY_MS = 1000;

interface Entry {
  opening: Promise<BorrowedSession | 'no-slot'>;
  /** Transfers using the session right now. */
  users: number;
  /** A transfer on it failed: lent no more, closed when its last user gives it back. */
  broken: boolean;
  idleTimer?: NodeJS.Timeout;
  /** When its last user gave it back (epoch ms), while no one uses it. */
  idleSince?: number;
}

/**
 * SFTP sessions shared by transfers: the files that come from the same server go through one
 * connection (and one of its connection slots) instead of a handshake each. Several transfers may
 * use one session at once (SFTP multiplexes requests; each read has its own handle). A transfer that
 * failed gives the session back unhealthy: it is lent no more and closed once its other users are
 * done.
 *
 * `keepIdleSeconds` keeps a session with no user open for that long (a warm Lambda environment
 * reuses it in its next invocation, as the SDK reuses its sockets); `park` at the end of the
 * invocation holds its slot only until the session would close, so an environment that is frozen
 * or dies while idle blocks a slot for at most that long. `closeAll` ends every session with no
 * user and frees its slot.
 */
export class SftpSessions {
  /** The session being lent for each server. */
  private readonly entries = new Map<string, Entry>();
  /** Every open session's entry, including broken ones still in use. */
  private readonly lent = new Map<BorrowedSession, Entry>();
  /** Servers found at their connection cap, until when they are not asked again (epoch ms). */
  private readonly fullUntil = new Map<string, number>();

  constructor(
    private readonly deps: SessionDeps,
    private readonly options: { keepIdleSeconds?: number } = {},
  ) {}

  /** A session to the server (shared, or new in a newly taken slot); 'no-slot' when the server is at its cap. */
  async borrow(server: ServerRecord, slotUntil: Date): Promise<BorrowedSession | 'no-slot'> {
    const existing = this.entries.get(server.id);
    if (existing && !existing.broken && this.overstayed(existing)) {
      // Idle past its window (the environment was frozen, say): the connection may be long gone.
      this.forget(server.id, existing);
      // Closing a connection that may be dead already: nothing to do if that fails (its slot expires).
      void existing.opening.then((opened) => (opened === 'no-slot' ? undefined : this.end(opened))).catch(() => {});
    } else if (existing && !existing.broken) {
      clearTimeout(existing.idleTimer);
      existing.idleSince = undefined;
      existing.users++;
      let opened: BorrowedSession | 'no-slot';
      try {
        opened = await existing.opening;
      } catch (error) {
        existing.users--;
        throw error; // the connect this borrower waited on failed: so does this transfer
      }
      if (opened === 'no-slot') {
        existing.users--;
        return 'no-slot';
      }
      if (await this.holdSlot(opened, slotUntil)) return opened;
      // The slot lapsed: someone else may hold it now. Lent no more; a new session needs a new slot.
      existing.users--;
      existing.broken = true;
      this.forget(server.id, existing);
      if (existing.users === 0) await this.end(opened);
    }
    // Found at its cap a moment ago: not asked again at once (a slot check costs a write per slot).
    if ((this.fullUntil.get(server.id) ?? 0) > Date.now()) return 'no-slot';
    const entry: Entry = { opening: this.open(server, slotUntil), users: 1, broken: false };
    this.entries.set(server.id, entry);
    try {
      const opened = await entry.opening;
      if (opened === 'no-slot') {
        this.forget(server.id, entry);
        this.fullUntil.set(server.id, Date.now() + FULL_SERVER_MEMORY_MS);
      } else {
        this.fullUntil.delete(server.id);
        this.lent.set(opened, entry);
      }
      return opened;
    } catch (error) {
      this.forget(server.id, entry);
      throw error;
    }
  }

  async giveBack(borrowed: BorrowedSession, healthy: boolean): Promise<void> {
    const entry = this.lent.get(borrowed);
    if (!entry) return this.end(borrowed);
    entry.users--;
    if (!healthy) {
      entry.broken = true;
      this.forget(borrowed.serverId, entry);
    }
    if (entry.users > 0) return;
    if (entry.broken) return this.end(borrowed);
    const keepMs = (this.options.keepIdleSeconds ?? 0) * 1000;
    if (keepMs <= 0) return;
    entry.idleSince = Date.now();
    entry.idleTimer = setTimeout(() => {
      if (entry.users > 0) return;
      this.forget(borrowed.serverId, entry);
      void this.end(borrowed);
    }, keepMs);
    entry.idleTimer.unref();
  }

  /**
   * At the end of an invocation whose sessions stay warm: each idle one's slot is held only until
   * the session would close, not for a transfer's lease, so an environment frozen or dead from now
   * on blocks it no longer than that.
   */
  async park(): Promise<void> {
    const keepMs = (this.options.keepIdleSeconds ?? 0) * 1000;
    const idle = [...this.lent].filter(([, entry]) => entry.users === 0 && !entry.broken);
    await Promise.all(
      idle.map(async ([borrowed]) => {
        borrowed.slotUntil = new Date(Date.now() + keepMs + 5000);
        await this.deps.slots.renew(borrowed.serverId, borrowed.slot, this.deps.instanceId, borrowed.slotUntil).catch(() => false);
      }),
    );
  }

  /** Ends every session no transfer is using (all of them at the end of a batch without `keepIdleSeconds`). */
  async closeAll(): Promise<void> {
    const ending: Promise<void>[] = [];
    for (const [serverId, entry] of this.entries) {
      if (entry.users > 0) continue;
      clearTimeout(entry.idleTimer);
      this.entries.delete(serverId);
      // An opening that failed has nothing to close.
      ending.push(entry.opening.then((opened) => (opened === 'no-slot' ? undefined : this.end(opened))).catch(() => {}));
    }
    await Promise.all(ending);
  }

  private overstayed(entry: Entry): boolean {
    return entry.users === 0 && entry.idleSince !== undefined && Date.now() - entry.idleSince > (this.options.keepIdleSeconds ?? 0) * 1000;
  }

  /** Whether a transfer starting now can use the session with its slot held until `slotUntil`. */
  private async holdSlot(borrowed: BorrowedSession, slotUntil: Date): Promise<boolean> {
    // Still held for over half the wanted time: no renewal per file (each transfer's heartbeat renews it).
    if (borrowed.slotUntil.getTime() - Date.now() > (slotUntil.getTime() - Date.now()) / 2) return true;
    if (!(await this.deps.slots.renew(borrowed.serverId, borrowed.slot, this.deps.instanceId, slotUntil).catch(() => false))) return false;
    borrowed.slotUntil = slotUntil;
    return true;
  }

  private async open(server: ServerRecord, slotUntil: Date): Promise<BorrowedSession | 'no-slot'> {
    const slot = await this.deps.slots.acquire(server.id, server.maxConnections, this.deps.instanceId, slotUntil);
    if (slot === undefined) return 'no-slot';
    try {
      const observedHostKey = server.hostKey === null ? (await this.deps.pollState.get(server.id))?.observedHostKey : undefined;
      const session = await openSession(server, observedHostKey, this.deps);
      return { serverId: server.id, slot, slotUntil, session };
    } catch (error) {
      // The connect error is what matters; a slot not released expires with its lease.
      await this.deps.slots.release(server.id, slot, this.deps.instanceId).catch(() => {});
      throw error;
    }
  }

  private forget(serverId: string, entry: Entry): void {
    if (this.entries.get(serverId) === entry) this.entries.delete(serverId);
  }

  private async end(borrowed: BorrowedSession): Promise<void> {
    this.lent.delete(borrowed);
    // Closing is best effort (the server may be gone); a slot not released expires with its lease.
    await borrowed.session.close().catch(() => {});
    await this.deps.slots.release(borrowed.serverId, borrowed.slot, this.deps.instanceId).catch(() => {});
  }
}
