import type { ServerCredentials } from '../../lib/domain/credentials';
import type { ListedFile } from '../../lib/domain/file-identity';
import type { ListingBounds } from '../../lib/domain/listing-bounds';
import type { ListingFilter } from '../../lib/domain/listing-filter';
import type { ServerRecord } from '../../lib/domain/server';
import { SftpError } from '../../lib/errors';
import type { DirectoryEntry, ReadOptions, RemoteStat, SftpConnector, SftpSession } from '../../lib/ports';

export const FAKE_HOST_KEY = 'SHA256:fakefakefakefakefakefakefakefakefakefakefak';

/** A read that fails once `afterBytes` of `path` were served (a connection dropped mid-file). */
export interface ReadFailure {
  path: string;
  afterBytes: number;
  error: Error;
}

/**
 * An SFTP server's files in memory, with failures to inject: a refused connect (`connectError`, e.g.
 * a SftpError `connect_failed` or `auth_failed`), a listing that fails, a read that fails mid-file,
 * and `onChunk`, called after each chunk served, where a test changes or removes a file mid-read.
 */
export class InMemorySftpServer implements SftpConnector {
  readonly files = new Map<string, { data: Buffer; mtime: number }>();
  readonly sessions: InMemorySftpSession[] = [];
  /** Every read asked for: path and byte range. */
  readonly reads: { path: string; start: number; end: number }[] = [];
  readonly connects: { serverId: string; credentials: ServerCredentials; expectedHostKey: string | undefined }[] = [];
  hostKey = FAKE_HOST_KEY;
  connectError: Error | undefined;
  listError: Error | undefined;
  readFailure: ReadFailure | undefined;
  /** Bytes per chunk a read yields. */
  chunkBytes = 64 * 1024;
  onChunk: ((path: string, servedBytes: number) => void) | undefined;

  put(path: string, data: Buffer | string, mtime = 1_700_000_000) {
    this.files.set(path, { data: Buffer.from(data), mtime });
  }

  /** The listed form of a file held here (what a poll sees, what a transfer job carries). */
  listed(path: string): ListedFile {
    const file = this.files.get(path);
    if (!file) throw new Error(`no fake file ${path}`);
    return { path, size: file.data.length, mtime: file.mtime };
  }

  async connect(server: ServerRecord, credentials: ServerCredentials, expectedHostKey: string | undefined) {
    this.connects.push({ serverId: server.id, credentials, expectedHostKey });
    if (this.connectError) throw this.connectError;
    if (expectedHostKey !== undefined && expectedHostKey !== this.hostKey) {
      throw new SftpError('host_key_mismatch', `${server.host} presented another host key`, { retryable: false });
    }
    const session = new InMemorySftpSession(this);
    this.sessions.push(session);
    return { session: session as SftpSession, hostKey: this.hostKey };
  }

  async presentedHostKey() {
    return this.hostKey;
  }

  /** Sessions opened and not closed. */
  get openSessions(): number {
    return this.sessions.filter((session) => !session.closed).length;
  }
}

export class InMemorySftpSession implements SftpSession {
  closed = false;
  readonly removed: string[] = [];
  readonly moved: [string, string][] = [];
  private aborted: Error | undefined;

  constructor(private readonly server: InMemorySftpServer) {}

  private check() {
    if (this.aborted) throw this.aborted;
    if (this.closed) throw new SftpError('connection_lost', 'the session is closed');
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    this.check();
    const file = this.server.files.get(path);
    return file && { size: file.data.length, mtime: file.mtime };
  }

  async *read(path: string, start: number, end: number, _options?: ReadOptions): AsyncIterable<Buffer> {
    this.check();
    this.server.reads.push({ path, start, end });
    if (!this.server.files.has(path)) throw new SftpError('not_found', `${path}: no such file`);
    let offset = start;
    while (offset < end) {
      this.check();
      const file = this.server.files.get(path);
      if (!file) throw new SftpError('not_found', `${path}: no such file`);
      const failure = this.server.readFailure?.path === path ? this.server.readFailure : undefined;
      if (failure && offset >= failure.afterBytes) throw failure.error;
      const stop = Math.min(end, file.data.length, offset + this.server.chunkBytes, failure?.afterBytes ?? Infinity);
      if (stop <= offset) return; // the file is shorter: the read ends early
      yield Buffer.from(file.data.subarray(offset, stop));
      offset = stop;
      this.server.onChunk?.(path, offset);
    }
  }

  async remove(path: string) {
    this.check();
    if (!this.server.files.delete(path)) throw new SftpError('not_found', `${path}: no such file`);
    this.removed.push(path);
  }

  async move(from: string, to: string) {
    this.check();
    const file = this.server.files.get(from);
    if (!file) throw new SftpError('not_found', `${from}: no such file`);
    this.server.files.delete(from);
    this.server.files.set(to, file);
    this.moved.push([from, to]);
  }

  async *listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter; bounds: ListingBounds }): AsyncIterable<ListedFile> {
    this.check();
    if (this.server.listError) throw this.server.listError;
    const base = dir === '/' ? '' : dir;
    let entries = 0;
    for (const path of [...this.server.files.keys()].sort()) {
      if (!path.startsWith(`${base}/`)) continue;
      const relative = path.slice(base.length + 1);
      const directories = relative.split('/').slice(0, -1);
      if (directories.length > 0 && !options.recursive) continue;
      if (directories.some((_, depth) => !options.filter.wantsDirectory(directories.slice(0, depth + 1).join('/')))) continue;
      if (++entries > options.bounds.maxEntries) {
        throw new SftpError('listing_too_large', `listing ${dir}: more than ${options.bounds.maxEntries} directory entries (POLL_MAX_ENTRIES)`);
      }
      if (options.filter.wantsFile(relative)) yield this.server.listed(path);
    }
  }

  abort(reason: Error) {
    this.aborted = reason;
  }

  async firstEntries(dir: string, limit: number): Promise<DirectoryEntry[]> {
    this.check();
    const base = dir === '/' ? '' : dir;
    return [...this.server.files]
      .filter(([path]) => path.startsWith(`${base}/`) && !path.slice(base.length + 1).includes('/'))
      .slice(0, limit)
      .map(([path, file]) => ({ name: path.slice(base.length + 1), type: 'file', size: file.data.length, mtime: file.mtime }));
  }

  async close() {
    this.closed = true;
  }
}
