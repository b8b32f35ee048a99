import type { Client, SFTPWrapper } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import type { ListedFile } from '../domain/file-identity';
import type { ListingBounds } from '../domain/listing-bounds';
import type { ListingFilter } from '../domain/listing-filter';
import { SftpError } from '../errors';
import type { DirectoryEntry, ReadOptions, SftpSession } from '../ports';
import { RequestWatchdog, settleWithin } from './sftp-deadlines';
import { DirectoryLister } from './sftp-listing';
import { classifySftpError } from './sftp-protocol';
import { PipelinedReader, type ReadTuning } from './sftp-reader';

/** One open SFTP connection; every request on it is awaited through its stall watchdog. */
export class Ssh2SftpSession implements SftpSession {
  private readonly watchdog: RequestWatchdog;
  private readonly lister: DirectoryLister;
  private readonly reader: PipelinedReader;

  constructor(
    private readonly client: SftpClient,
    connection: Client,
    sftp: SFTPWrapper,
    tuning: ReadTuning,
    requestTimeoutMs: number,
  ) {
    this.watchdog = new RequestWatchdog(connection, requestTimeoutMs);
    this.lister = new DirectoryLister(sftp, this.watchdog);
    this.reader = new PipelinedReader(connection, sftp, this.watchdog, tuning);
  }

  /** How many channels the last read used (diagnostics and tests). */
  get lastReadChannels(): number {
    return this.reader.lastReadChannels;
  }

  abort(reason: Error): void {
    this.watchdog.abort(reason);
  }

  listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter; bounds: ListingBounds }): AsyncIterable<ListedFile> {
    return this.lister.listFiles(dir, options);
  }

  firstEntries(dir: string, limit: number): Promise<DirectoryEntry[]> {
    return this.lister.firstEntries(dir, limit);
  }

  read(path: string, start: number, end: number, options: ReadOptions = {}): AsyncIterable<Buffer> {
    return this.reader.read(path, start, end, options);
  }

  async stat(path: string): Promise<{ size: number; mtime: number } | undefined> {
    try {
      const attrs = await this.lister.statRaw(path);
      return attrs.isFile() ? { size: attrs.size, mtime: attrs.mtime } : undefined;
    } catch (error) {
      if (error instanceof SftpError && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  async remove(path: string): Promise<void> {
    try {
      await this.watchdog.answered(this.client.delete(path), `remove ${path}`);
    } catch (error) {
      throw classifySftpError(error, `remove ${path}`);
    }
  }

  async move(from: string, to: string): Promise<void> {
    try {
      await this.watchdog.answered(this.client.mkdir(to.slice(0, to.lastIndexOf('/')) || '/', true), `mkdir for ${to}`);
      await this.watchdog.answered(this.client.rename(from, to), `move ${from}`);
    } catch (error) {
      throw classifySftpError(error, `move ${from} to ${to}`);
    }
  }

  async close(): Promise<void> {
    // end() rejects only on an error while the connection goes down anyway: nothing is left to release.
    await settleWithin(this.client.end().then(() => undefined, () => undefined), 2000);
  }
}
