import { createHash } from 'node:crypto';
import SftpClient from 'ssh2-sftp-client';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import type { ServerCredentials } from '../domain/credentials';
import type { ListedFile } from '../domain/file-identity';
import type { ListingFilter } from '../domain/listing-filter';
import type { ServerRecord } from '../domain/server';
import { SftpError, type SftpErrorCode } from '../errors';
import type { SftpConnector, SftpSession } from '../ports';

/** OpenSSH's `SHA256:<base64, unpadded>` fingerprint of a raw host key. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

const STATUS_EOF = 1;
const STATUS_NO_SUCH_FILE = 2;
const STATUS_PERMISSION_DENIED = 3;

/** Maps ssh2 / ssh2-sftp-client failures to a stable code; messages never carry credentials. */
export function classifySftpError(error: unknown, context: string): SftpError {
  if (error instanceof SftpError) return error;
  const details = error as { message?: string; code?: unknown; level?: string };
  const message = String(details.message ?? error);
  const code = details.code;
  let kind: SftpErrorCode = 'protocol';
  if (details.level === 'client-authentication' || /authentication methods failed|All configured authentication/i.test(message)) kind = 'auth_failed';
  else if (details.level === 'client-timeout' || /timed out|ETIMEDOUT/i.test(message)) kind = 'timeout';
  else if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(`${message} ${String(code)}`)) kind = 'connect_failed';
  else if (/ECONNRESET|EPIPE|Not connected|No SFTP connection|connection lost|socket|closed|ended/i.test(`${message} ${String(code)}`)) kind = 'connection_lost';
  else if (code === STATUS_NO_SUCH_FILE || /No such file/i.test(message)) kind = 'not_found';
  else if (code === STATUS_PERMISSION_DENIED || /Permission denied/i.test(message)) kind = 'permission_denied';
  const retryable = kind !== 'auth_failed' && kind !== 'permission_denied';
  return new SftpError(kind, `${context}: ${message.replace(/^\w+: /, '')}`, { cause: error, retryable });
}

/** Connects with ssh2-sftp-client, verifying the host key before any credential is sent. */
export class Ssh2SftpConnector implements SftpConnector {
  constructor(private readonly options: { readyTimeoutMs?: number; keepaliveIntervalMs?: number } = {}) {}

  async connect(
    server: ServerRecord,
    credentials: ServerCredentials,
    expectedHostKey: string | undefined,
  ): Promise<{ session: SftpSession; hostKey: string }> {
    const client = new SftpClient(`sluice-${server.id}`);
    let presented: string | undefined;
    try {
      await client.connect({
        host: server.host,
        port: server.port,
        username: server.username,
        ...(credentials.type === 'password'
          ? { password: credentials.password }
          : { privateKey: credentials.privateKey, ...(credentials.passphrase ? { passphrase: credentials.passphrase } : {}) }),
        readyTimeout: this.options.readyTimeoutMs ?? 20_000,
        keepaliveInterval: this.options.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          presented = hostKeyFingerprint(key);
          return expectedHostKey === undefined || presented === expectedHostKey;
        },
      });
    } catch (error) {
      await client.end().catch(() => {});
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
    // Without TCP no-delay every SFTP round trip can wait ~40 ms on Nagle + delayed ACK.
    (client as unknown as { client: { setNoDelay(on: boolean): void } }).client.setNoDelay(true);
    // Surface errors raised while idle instead of crashing the process with an unhandled 'error'.
    client.on('error', () => {});
    const sftp = (client as unknown as { sftp: SFTPWrapper }).sftp;
    return { session: new Ssh2SftpSession(client, sftp), hostKey: presented! };
  }
}

class Ssh2SftpSession implements SftpSession {
  constructor(
    private readonly client: SftpClient,
    private readonly sftp: SFTPWrapper,
  ) {}

  async *listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter }): AsyncIterable<ListedFile> {
    const root = dir === '/' ? '' : dir;
    // Breadth-first over directories: memory holds one page of entries plus the directory queue.
    const pending: string[] = [''];
    while (pending.length > 0) {
      const relativeDir = pending.shift()!;
      const absoluteDir = `${root}/${relativeDir}`.replace(/\/$/, '') || '/';
      for await (const page of this.readDirectoryPages(absoluteDir)) {
        for (const entry of page) {
          if (entry.filename === '.' || entry.filename === '..') continue;
          const relativePath = relativeDir ? `${relativeDir}/${entry.filename}` : entry.filename;
          const absolutePath = `${root}/${relativePath}`;
          let attrs: Stats = entry.attrs as Stats;
          if (attrs.isSymbolicLink()) {
            // Follow links to files; never descend through links (they can loop).
            try {
              attrs = await this.stat(absolutePath);
            } catch {
              continue; // dangling link
            }
            if (!attrs.isFile()) continue;
          }
          if (attrs.isDirectory()) {
            if (options.recursive && options.filter.wantsDirectory(relativePath)) pending.push(relativePath);
            continue;
          }
          if (!attrs.isFile() || !options.filter.wantsFile(relativePath)) continue;
          yield { path: absolutePath, size: attrs.size, mtime: attrs.mtime };
        }
      }
    }
  }

  private async *readDirectoryPages(path: string): AsyncIterable<FileEntryWithStats[]> {
    const handle = await new Promise<Buffer>((resolve, reject) =>
      this.sftp.opendir(path, (error, value) => (error ? reject(classifySftpError(error, `opendir ${path}`)) : resolve(value))),
    );
    try {
      while (true) {
        const page = await new Promise<FileEntryWithStats[] | undefined>((resolve, reject) =>
          this.sftp.readdir(handle, (error: (Error & { code?: number }) | undefined, entries) => {
            if (error && error.code === STATUS_EOF) resolve(undefined);
            else if (error) reject(classifySftpError(error, `readdir ${path}`));
            else resolve(entries as FileEntryWithStats[]);
          }),
        );
        if (page === undefined) return;
        yield page;
      }
    } finally {
      await new Promise<void>((resolve) => this.sftp.close(handle, () => resolve()));
    }
  }

  private stat(path: string): Promise<Stats> {
    return new Promise((resolve, reject) =>
      this.sftp.stat(path, (error, stats) => (error ? reject(classifySftpError(error, `stat ${path}`)) : resolve(stats))),
    );
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}
