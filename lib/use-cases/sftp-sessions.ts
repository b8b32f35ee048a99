import type { ServerRecord } from '../domain/server';
import type { ConnectionSlots, PollStateStore, SecretStore, SftpConnector, SftpSession } from '../ports';

export interface SessionDeps {
  slots: ConnectionSlots;
  secrets: SecretStore;
  pollState: Pick<PollStateStore, 'get'>;
  sftp: SftpConnector;
  instanceId: string;
}

/** A session lent to one transfer, with the connection slot it holds. */
export interface BorrowedSession {
  serverId: string;
  slot: string;
  session: SftpSession;
}

/**
 * SFTP sessions shared by the transfers of one invocation: the files of a batch that come from the
 * same server go through one connection (and one of its connection slots) instead of a handshake
 * each. A session is lent to one transfer at a time; a transfer that failed gives it back unhealthy
 * and it is closed. `closeAll` ends every session and frees every slot.
 */
export class SftpSessions {
  private readonly idle = new Map<string, BorrowedSession>();

  constructor(private readonly deps: SessionDeps) {}

  /** An idle session to the server, or a new one in a newly taken slot; 'no-slot' when the server is at its cap. */
  async borrow(server: ServerRecord, slotUntil: Date): Promise<BorrowedSession | 'no-slot'> {
    const idle = this.idle.get(server.id);
    if (idle) {
      this.idle.delete(server.id);
      if (await this.deps.slots.renew(server.id, idle.slot, this.deps.instanceId, slotUntil)) return idle;
      await idle.session.close(); // the slot lapsed while idle: someone else may hold it now
    }
    const slot = await this.deps.slots.acquire(server.id, server.maxConnections, this.deps.instanceId, slotUntil);
    if (slot === undefined) return 'no-slot';
    try {
      const credentials = await this.deps.secrets.read(server.secretArn);
      const expectedHostKey = server.hostKey ?? (await this.deps.pollState.get(server.id))?.observedHostKey;
      const { session } = await this.deps.sftp.connect(server, credentials, expectedHostKey);
      return { serverId: server.id, slot, session };
    } catch (error) {
      await this.deps.slots.release(server.id, slot, this.deps.instanceId).catch(() => {});
      throw error;
    }
  }

  async giveBack(borrowed: BorrowedSession, healthy: boolean): Promise<void> {
    if (healthy && !this.idle.has(borrowed.serverId)) {
      this.idle.set(borrowed.serverId, borrowed);
      return;
    }
    await this.end(borrowed);
  }

  async closeAll(): Promise<void> {
    const sessions = [...this.idle.values()];
    this.idle.clear();
    await Promise.all(sessions.map((borrowed) => this.end(borrowed)));
  }

  private async end(borrowed: BorrowedSession): Promise<void> {
    await borrowed.session.close();
    await this.deps.slots.release(borrowed.serverId, borrowed.slot, this.deps.instanceId).catch(() => {});
  }
}
