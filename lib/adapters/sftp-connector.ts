import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import SftpClient from 'ssh2-sftp-client';
import ssh2, { type Client, type SFTPWrapper } from 'ssh2';
import type { ServerCredentials } from '../domain/credentials';
import { ANY_DESTINATION, type DestinationPolicy } from '../domain/destination';
import type { ServerRecord } from '../domain/server';
import { SftpError } from '../errors';
import type { SftpConnector, SftpSession } from '../ports';
import { settleWithin, withDeadline } from './sftp-deadlines';
import { classifySftpError } from './sftp-protocol';
import type { ReadTuning } from './sftp-reader';
import { Ssh2SftpSession } from './sftp-session';

export { classifySftpError } from './sftp-protocol';
export type { ReadTuning } from './sftp-reader';

/** OpenSSH's `SHA256:<base64, unpadded>` fingerprint of a raw host key. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Every address a host name resolves to (an address literal resolves to itself). */
export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export interface ConnectorOptions {
  /** Every SFTP request, and the whole handshake, must be answered within this (default 30 s). */
  requestTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  tuning?: Partial<ReadTuning>;
  /** Which addresses may be connected to; default: any. */
  destinations?: DestinationPolicy;
  resolve?: Resolver;
}

/**
 * Connects with ssh2-sftp-client, verifying the host key before any credential is sent.
 *
 * The destination is resolved once and every address it resolves to is checked against the
 * policy; the connection then goes to the checked address itself, so a DNS server cannot answer a
 * second lookup differently (DNS rebinding) and no TCP connection is ever made to a denied address.
 */
export class Ssh2SftpConnector implements SftpConnector {
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: ConnectorOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** The address to connect to, or a destination_denied SftpError. */
  private async destinationAddress(server: ServerRecord): Promise<string> {
    const policy = this.options.destinations ?? ANY_DESTINATION;
    let addresses: string[];
    try {
      addresses = isIP(server.host)
        ? [server.host]
        : await withDeadline((this.options.resolve ?? systemResolver)(server.host), this.requestTimeoutMs, () => new SftpError('timeout', `resolve ${server.host}: no answer within ${Math.round(this.requestTimeoutMs / 1000)} s`));
    } catch (error) {
      throw classifySftpError(error, `resolve ${server.host}`);
    }
    if (addresses.length === 0) throw new SftpError('connect_failed', `resolve ${server.host}: no address`);
    for (const address of addresses) {
      const verdict = policy.check(address);
      // The address stays out of the message (operators see lastError; the API caller should not
      // learn how internal names resolve); the reason names the setting that refused it.
      if (!verdict.allowed) throw new SftpError('destination_denied', `${server.host} resolves to an address that ${verdict.reason}; no connection was made`, { retryable: true });
    }
    // IPv4 first: a function without an IPv6 route out (Lambda's default) still reaches a dual-stack server.
    return addresses.find((address) => isIP(address) === 4) ?? addresses[0]!;
  }

  async connect(
    server: ServerRecord,
    credentials: ServerCredentials,
    expectedHostKey: string | undefined,
  ): Promise<{ session: SftpSession; hostKey: string }> {
    const address = await this.destinationAddress(server);
    const client = new SftpClient(`sluice-${server.id}`);
    let presented: string | undefined;
    const handshake = client.connect({
      host: address,
      port: server.port,
      username: server.username,
      ...(credentials.type === 'password'
        ? { password: credentials.password }
        : { privateKey: credentials.privateKey, ...(credentials.passphrase ? { passphrase: credentials.passphrase } : {}) }),
      readyTimeout: this.requestTimeoutMs,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = hostKeyFingerprint(key);
        return expectedHostKey === undefined || presented === expectedHostKey;
      },
    });
    try {
      // readyTimeout ends at the SSH handshake; a server can still stall opening the SFTP subsystem.
      await withDeadline(handshake, 2 * this.requestTimeoutMs, () => {
        (client as unknown as { client?: Client }).client?.destroy();
        return new SftpError('timeout', `connect to ${server.host}:${server.port}: no SFTP session within ${(2 * this.requestTimeoutMs) / 1000} s`);
      });
    } catch (error) {
      // Ending a client whose connection failed may fail too; the error that matters is the connect's.
      await settleWithin(client.end().then(() => undefined, () => undefined), 2000);
      if (expectedHostKey !== undefined && presented !== undefined && presented !== expectedHostKey) {
        throw new SftpError(
          'host_key_mismatch',
          `host key mismatch: ${server.host}:${server.port} presented ${presented}, expected ${expectedHostKey}; ` +
            'if the change is legitimate, set the server\'s hostKey to the new fingerprint',
          { retryable: false },
        );
      }
      throw classifySftpError(error, `connect to ${server.host}:${server.port}`);
    }
    const connection = (client as unknown as { client: Client }).client;
    // Without TCP no-delay every SFTP round trip can wait ~40 ms on Nagle + delayed ACK.
    connection.setNoDelay(true);
    // Surface errors raised while idle instead of crashing the process with an unhandled 'error'.
    client.on('error', () => {});
    const sftp = (client as unknown as { sftp: SFTPWrapper }).sftp;
    const tuning = { maxReadChannels: 4, slowLinkRttMs: 5, ...this.options.tuning };
    return { session: new Ssh2SftpSession(client, connection, sftp, tuning, this.requestTimeoutMs), hostKey: presented! };
  }

  async presentedHostKey(server: ServerRecord): Promise<string> {
    const address = await this.destinationAddress(server);
    const connection = new ssh2.Client();
    try {
      return await withDeadline(
        new Promise<string>((resolve, reject) => {
          let presented: string | undefined;
          connection.on('error', (error) => (presented ? resolve(presented) : reject(classifySftpError(error, `connect to ${server.host}:${server.port}`))));
          connection.on('close', () => (presented ? resolve(presented) : reject(new SftpError('connection_lost', `connect to ${server.host}:${server.port}: closed before a host key was presented`))));
          connection.connect({
            host: address,
            port: server.port,
            username: server.username,
            readyTimeout: this.requestTimeoutMs,
            // Refusing the key ends the handshake before authentication: nothing secret is offered.
            hostVerifier: (key: Buffer) => {
              presented = hostKeyFingerprint(key);
              resolve(presented);
              return false;
            },
          });
        }),
        this.requestTimeoutMs,
        () => new SftpError('timeout', `connect to ${server.host}:${server.port}: no host key within ${Math.round(this.requestTimeoutMs / 1000)} s`),
      );
    } finally {
      connection.destroy();
    }
  }
}
