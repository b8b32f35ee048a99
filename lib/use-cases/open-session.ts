import { requiredHostKey, type HostKeyPolicy } from '../domain/host-key';
import type { ServerRecord } from '../domain/server';
import type { Logger, PollStateStore, SecretStore, SftpConnector, SftpSession } from '../ports';

export interface SessionOpeningDeps {
  secrets: Pick<SecretStore, 'read'>;
  sftp: Pick<SftpConnector, 'connect'>;
  hostKeyPolicy: HostKeyPolicy;
  /**
   * Given, a key trusted on first sight is recorded (the poller); without, it is only used (the
   * transfer, whose role may not write poll state, connects to servers the poller has seen first).
   */
  firstSeen?: { pollState: Pick<PollStateStore, 'recordHostKey'>; logger: Logger };
}

/**
 * Connects to a server as sluice trusts it, the one place this is done for polls and transfers: the
 * host key it must present (requiredHostKey: the pinned one, else under first-seen the recorded
 * one), checked before any credential is sent, and its credentials read from its secret only then.
 */
export async function openSession(server: ServerRecord, observedHostKey: string | undefined, deps: SessionOpeningDeps): Promise<SftpSession> {
  const expectedHostKey = requiredHostKey(server, observedHostKey, deps.hostKeyPolicy);
  const credentials = await deps.secrets.read(server.secretArn);
  const connection = await deps.sftp.connect(server, credentials, expectedHostKey);
  if (expectedHostKey === undefined && deps.firstSeen && (await deps.firstSeen.pollState.recordHostKey(server.id, connection.hostKey))) {
    deps.firstSeen.logger.warn('host_key_recorded', { serverId: server.id, serverName: server.name, hostKey: connection.hostKey });
  }
  return connection.session;
}
