import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import SftpClient from 'ssh2-sftp-client';
import ssh2, { type Client, type FileEntryWithStats, type SFTPWrapper, type Stats } from 'ssh2';
import type { ServerCredentials } from '../domain/credentials';
import type { ListedFile } from '../domain/file-identity';
import { ListingBudget, type ListingBounds } from '../domain/listing-bounds';
import type { ListingFilter } from '../domain/listing-filter';
import { isSafeComponent } from '../domain/remote-name';
import { ANY_DESTINATION, type DestinationPolicy } from '../domain/destination';
import { escapeUnsafeText } from '../domain/remote-name';
import type { ServerRecord } from '../domain/server';
import { SftpError, type SftpErrorCode } from '../errors';
import type { DirectoryEntry, ReadOptions, SftpConnector, SftpSession } from '../ports';
import { YoungGarbageCollector } from './native-garbage';

/** OpenSSH's `SHA256:<base64, unpadded>` fingerprint of a raw host key. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

const STATUS_EOF = 1;
/** OpenSSH serves at most 256 KiB per read; 255 KiB leaves room for the packet header. */
const READ_CHUNK_BYTES = 255 * 1024;
const READ_DEPTH = 8;
/** How often a read releases ssh2's per-packet garbage (see YoungGarbageCollector). */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;
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
  // The server's own words reach operators (lastError) escaped: a hostile server chooses them.
  return new SftpError(kind, escapeUnsafeText(`${context}: ${message.replace(/^\w+: /, '')}`), { cause: error, retryable });
}

/** Waits for `promise`, but no longer than `ms`. */
function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
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

/** `promise`, or the error `onTimeout` makes once `ms` passed without it settling. */
function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** How reads adapt to the link. */
export interface ReadTuning {
  /** Most SFTP channels one file is read over (one connection). */
  maxReadChannels: number;
  /** One more channel per this much round trip (measured on the open). */
  slowLinkRttMs: number;
}

class Ssh2SftpSession implements SftpSession {
  /** Channels opened for striped reads, kept for the session's next files. */
  private readonly extraChannels: SFTPWrapper[] = [];
  /** How many channels the last read used (diagnostics and tests). */
  lastReadChannels = 0;
  /**
   * Rejects once the connection is closed. ssh2 never answers a request issued on (or left pending
   * by) a connection that closed in some states, so every request races this instead of waiting forever.
   */
  private readonly lost: Promise<never>;

  constructor(
    private readonly client: SftpClient,
    private readonly connection: Client,
    private readonly sftp: SFTPWrapper,
    private readonly tuning: ReadTuning,
    private readonly requestTimeoutMs: number,
  ) {
    this.lost = new Promise<never>((_, reject) => {
      connection.once('close', () => reject(this.abortedWith ?? new SftpError('connection_lost', 'the SFTP connection closed')));
    });
    // Observed through the races below; unobserved it is no error.
    this.lost.catch(() => {});
  }

  /** Why the session was aborted, if it was: what every request in flight then fails with. */
  private abortedWith: Error | undefined;

  abort(reason: Error): void {
    this.abortedWith ??= reason;
    this.connection.destroy();
  }

  /** When the server last answered any request of this session (the stall watchdog's clock). */
  private lastAnswerAt = performance.now();
  private readonly noteAnswer = () => {
    this.lastAnswerAt = performance.now();
  };

  /**
   * The request's answer; a connection_lost SftpError once the connection is gone; a timeout
   * SftpError once the server has answered nothing at all for the request deadline while it was
   * outstanding. A slow server that keeps answering (a pipelined read on a slow link) is not
   * stalled; one that stops is, and its connection is then destroyed: a late answer must never be
   * taken for another request's, and every other request on it fails at once instead of waiting.
   */
  private answered<T>(request: Promise<T>, what: string): Promise<T> {
    const issuedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      const check = () => {
        const quietMs = performance.now() - Math.max(issuedAt, this.lastAnswerAt);
        if (quietMs < this.requestTimeoutMs) {
          timer = setTimeout(check, this.requestTimeoutMs - quietMs);
          return;
        }
        reject(new SftpError('timeout', `${what}: the server answered nothing for ${Math.round(this.requestTimeoutMs / 1000)} s`));
        this.connection.destroy();
      };
      timer = setTimeout(check, this.requestTimeoutMs);
    });
    const answer = request.finally(this.noteAnswer);
    return Promise.race([answer, this.lost, stalled]).finally(() => clearTimeout(timer));
  }

  async *listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter; bounds: ListingBounds }): AsyncIterable<ListedFile> {
    const root = dir === '/' ? '' : dir;
    const budget = new ListingBudget(options.bounds, dir);
    // Breadth-first over directories: memory holds one page of entries plus the directory queue
    // (at most bounds.maxEntries directories).
    const pending: { relativeDir: string; depth: number }[] = [{ relativeDir: '', depth: 0 }];
    for (let next = 0; next < pending.length; next++) {
      const { relativeDir, depth } = pending[next]!;
      const absoluteDir = `${root}/${relativeDir}`.replace(/\/$/, '') || '/';
      for await (const page of this.readDirectoryPages(absoluteDir)) {
        budget.checkTime();
        for (const entry of page) {
          if (entry.filename === '.' || entry.filename === '..') continue;
          budget.countEntry();
          // A name never holds a `/`; one that does would pass for a path into a subdirectory.
          // U+FFFD (what ssh2 makes of bytes that are not UTF-8) marks it as no name: quarantined.
          const name = entry.filename.replaceAll('/', '\ufffd');
          const relativePath = relativeDir ? `${relativeDir}/${name}` : name;
          const absolutePath = `${root}/${relativePath}`;
          // No request ever names an unsafe entry (one that is not UTF-8 cannot even be addressed):
          // it is yielded as listed, and the poll quarantines it.
          const safe = isSafeComponent(name);
          let attrs: Stats = entry.attrs as Stats;
          if (attrs.isSymbolicLink() && safe) {
            // Follow links to files; never descend through links (they can loop).
            try {
              attrs = await this.statRaw(absolutePath);
            } catch {
              continue; // dangling link
            }
            if (!attrs.isFile()) continue;
          }
          if (attrs.isDirectory()) {
            if (!options.recursive || !options.filter.wantsDirectory(relativePath)) continue;
            if (!safe) {
              yield { path: absolutePath, size: attrs.size, mtime: attrs.mtime, directory: true };
              continue;
            }
            budget.descend(depth + 1);
            pending.push({ relativeDir: relativePath, depth: depth + 1 });
            continue;
          }
          const listable = attrs.isFile() || (!safe && attrs.isSymbolicLink());
          if (!listable || !options.filter.wantsFile(relativePath)) continue;
          yield { path: absolutePath, size: attrs.size, mtime: attrs.mtime };
        }
      }
    }
  }

  async firstEntries(dir: string, limit: number): Promise<DirectoryEntry[]> {
    for await (const page of this.readDirectoryPages(dir)) {
      return page
        .filter((entry) => entry.filename !== '.' && entry.filename !== '..')
        .slice(0, limit)
        .map((entry) => {
          const attrs = entry.attrs as Stats;
          const type = attrs.isFile() ? 'file' : attrs.isDirectory() ? 'directory' : attrs.isSymbolicLink() ? 'symlink' : 'other';
          // A server may leave size or times out of its attributes.
          return { name: entry.filename, type, size: Number.isFinite(attrs.size) ? attrs.size : null, mtime: Number.isFinite(attrs.mtime) ? attrs.mtime : null };
        });
    }
    return [];
  }

  private async *readDirectoryPages(path: string): AsyncIterable<FileEntryWithStats[]> {
    const handle = await this.answered(
      new Promise<Buffer>((resolve, reject) =>
        this.sftp.opendir(path, (error, value) => (error ? reject(classifySftpError(error, `opendir ${path}`)) : resolve(value))),
      ),
      `opendir ${path}`,
    );
    try {
      while (true) {
        const page = await this.answered(
          new Promise<FileEntryWithStats[] | undefined>((resolve, reject) =>
            this.sftp.readdir(handle, (error: (Error & { code?: number }) | undefined, entries) => {
              if (error && error.code === STATUS_EOF) resolve(undefined);
              else if (error) reject(classifySftpError(error, `readdir ${path}`));
              else resolve(entries as FileEntryWithStats[]);
            }),
          ),
          `readdir ${path}`,
        );
        if (page === undefined) return;
        yield page;
      }
    } finally {
      await closeHandle(this.sftp, handle);
    }
  }

  /**
   * Pipelined read: keeps `READ_DEPTH` requests of `READ_CHUNK_BYTES` outstanding per channel at
   * increasing offsets and yields the chunks in order. One request at a time (the stock
   * createReadStream) waits a round trip per 32 KiB; this keeps the channel window full.
   *
   * ssh2 caps a channel's window at 2 MiB, so one channel moves at most ~2 MiB per round trip. When
   * the open's round trip shows a slow link, the read is spread over several SFTP channels of the
   * same connection (one per `slowLinkRttMs` of round trip, at most `maxReadChannels`).
   */
  async *read(path: string, start: number, end: number, options: ReadOptions = {}): AsyncIterable<Buffer> {
    const opened = performance.now();
    const mainHandle = await this.answered(openForReading(this.sftp, path), `open ${path}`);
    const roundTripMs = performance.now() - opened;
    const readers: FileReader[] = [{ channel: this.sftp, handle: mainHandle }];
    const wanted = Math.min(this.tuning.maxReadChannels, Math.max(1, Math.round(roundTripMs / this.tuning.slowLinkRttMs)));
    if (wanted > 1 && end - start > READ_CHUNK_BYTES * READ_DEPTH) readers.push(...(await this.extraReaders(path, wanted - 1)));
    this.lastReadChannels = readers.length;

    const spare: Buffer[] = [];
    const garbage = new YoungGarbageCollector(COLLECT_EVERY_BYTES);
    const inflight: { length: number; buffer: Buffer; data: Promise<Buffer> }[] = [];
    let next = start;
    let issued = 0;
    const issue = () => {
      const length = Math.min(READ_CHUNK_BYTES, end - next);
      const { channel, handle } = readers[issued++ % readers.length]!;
      const buffer = spare.pop() ?? Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const data = this.answered(readAt(channel, handle, buffer, next, length, path, this.noteAnswer), `read ${path}`);
      data.catch(() => {}); // awaited in order below; never an unhandled rejection meanwhile
      inflight.push({ length, buffer, data });
      next += length;
    };
    try {
      while (inflight.length < READ_DEPTH * readers.length && next < end) issue();
      while (inflight.length > 0) {
        const request = inflight.shift()!;
        const chunk = await (options.signal ? this.unlessAborted(request.data, options.signal, path) : request.data);
        if (next < end) issue();
        garbage.account(chunk.length);
        if (chunk.length > 0) yield chunk;
        // The consumer asked for the next chunk, so it is done with this one.
        if (options.lendChunks) spare.push(request.buffer);
        if (chunk.length < request.length) return; // end of file came early: the caller sees the short count
      }
    } finally {
      await Promise.allSettled(inflight.map((request) => request.data));
      await Promise.all(readers.map(({ channel, handle }) => closeHandle(channel, handle)));
    }
  }

  /** `request`, or a timeout SftpError once `signal` aborts; the connection is then dropped, so nothing of it waits on. */
  private unlessAborted<T>(request: Promise<T>, signal: AbortSignal, path: string): Promise<T> {
    const aborted = () => {
      this.connection.destroy();
      return new SftpError('timeout', `read ${path}: stopped, the server sent too slowly to finish in time`);
    };
    if (signal.aborted) return Promise.reject(aborted());
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([request, stopped]).finally(() => signal.removeEventListener('abort', onAbort!));
  }

  /** Extra SFTP channels on this connection, each with the file open; fewer if the server refuses some. */
  private async extraReaders(path: string, count: number): Promise<FileReader[]> {
    while (this.extraChannels.length < count) {
      // A server that never confirms the channel costs the read its deadline, not the transfer.
      const channel = await withDeadline(
        new Promise<SFTPWrapper | undefined>((resolve) => {
          try {
            this.connection.sftp((error, opened) => resolve(error ? undefined : opened));
          } catch {
            resolve(undefined);
          }
        }),
        this.requestTimeoutMs,
        () => new SftpError('timeout', `open a read channel for ${path}: no answer`),
      ).catch(() => undefined);
      if (!channel) break; // e.g. OpenSSH's MaxSessions: read with what we have
      channel.on('error', () => {});
      this.extraChannels.push(channel);
    }
    const readers = await Promise.all(
      this.extraChannels.slice(0, count).map((channel) => this.answered(openForReading(channel, path), `open ${path}`).then((handle) => ({ channel, handle }), () => undefined)),
    );
    return readers.filter((reader) => reader !== undefined);
  }

  async stat(path: string): Promise<{ size: number; mtime: number } | undefined> {
    try {
      const attrs = await this.statRaw(path);
      return attrs.isFile() ? { size: attrs.size, mtime: attrs.mtime } : undefined;
    } catch (error) {
      if (error instanceof SftpError && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  private statRaw(path: string): Promise<Stats> {
    return this.answered(
      new Promise((resolve, reject) =>
        this.sftp.stat(path, (error, stats) => (error ? reject(classifySftpError(error, `stat ${path}`)) : resolve(stats))),
      ),
      `stat ${path}`,
    );
  }

  async remove(path: string): Promise<void> {
    try {
      await this.answered(this.client.delete(path), `remove ${path}`);
    } catch (error) {
      throw classifySftpError(error, `remove ${path}`);
    }
  }

  async move(from: string, to: string): Promise<void> {
    try {
      await this.answered(this.client.mkdir(to.slice(0, to.lastIndexOf('/')) || '/', true), `mkdir for ${to}`);
      await this.answered(this.client.rename(from, to), `move ${from}`);
    } catch (error) {
      throw classifySftpError(error, `move ${from} to ${to}`);
    }
  }

  async close(): Promise<void> {
    await settleWithin(this.client.end().then(() => undefined, () => undefined), 2000);
  }
}

interface FileReader {
  channel: SFTPWrapper;
  handle: Buffer;
}

function openForReading(channel: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    channel.open(path, 'r', (error, handle) => (error ? reject(classifySftpError(error, `open ${path}`)) : resolve(handle))),
  );
}

/** Reads `length` bytes at `position` into `buffer`, repeating short reads; fewer bytes only at end of file. */
async function readAt(channel: SFTPWrapper, handle: Buffer, buffer: Buffer, position: number, length: number, path: string, onAnswer: () => void): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const bytes = await new Promise<number>((resolve, reject) =>
      channel.read(handle, buffer, filled, length - filled, position + filled, (error: (Error & { code?: number }) | undefined, bytesRead: number) => {
        if (error && error.code === STATUS_EOF) resolve(0);
        else if (error) reject(classifySftpError(error, `read ${path}`));
        else resolve(bytesRead);
      }),
    );
    onAnswer();
    if (bytes === 0) break;
    filled += bytes;
  }
  return buffer.subarray(0, filled);
}

/** On a dead connection a close request is never answered: do not wait for it forever. */
function closeHandle(channel: SFTPWrapper, handle: Buffer): Promise<void> {
  return settleWithin(
    new Promise<void>((resolve) => {
      try {
        channel.close(handle, () => resolve());
      } catch {
        resolve();
      }
    }),
    2000,
  );
}
