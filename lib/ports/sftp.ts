import type { ServerCredentials } from '../domain/credentials';
import type { ListedFile } from '../domain/file-identity';
import type { ListingBounds } from '../domain/listing-bounds';
import type { ListingFilter } from '../domain/listing-filter';
import type { ServerRecord } from '../domain/server';

// An SFTP server as the poller and the transfer see it.

/** One open SFTP session on a server. */
export interface SftpSession extends SftpFileReader {
  remove(path: string): Promise<void>;
  /** Moves a file, creating the target's directories. */
  move(from: string, to: string): Promise<void>;
  /**
   * Regular files under `dir` (recursively if asked), streamed page by page; a SftpError
   * `listing_too_large` once the listing passes `bounds`. Entries with unsafe names are yielded
   * without any request naming them (a directory as `directory: true`, not descended into).
   */
  listFiles(dir: string, options: { recursive: boolean; filter: ListingFilter; bounds: ListingBounds }): AsyncIterable<ListedFile>;
  /** Drops the connection now: every request in flight, and any later one, fails with `reason`. */
  abort(reason: Error): void;
  /** The first directory page the server returns for `dir` (at most `limit` entries), unfiltered. */
  firstEntries(dir: string, limit: number): Promise<DirectoryEntry[]>;
  close(): Promise<void>;
}

/** One entry of a raw directory page; `name` exactly as the server sent it (escape before showing). */
export interface DirectoryEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Null when the server did not say. */
  size: number | null;
  /** Seconds since the epoch; null when the server did not say. */
  mtime: number | null;
}

export interface SftpConnector {
  /**
   * Opens a session. With `expectedHostKey` set, a server presenting another key is refused with a
   * SftpError of code `host_key_mismatch`. Resolves with the fingerprint the server presented.
   */
  connect(
    server: ServerRecord,
    credentials: ServerCredentials,
    expectedHostKey: string | undefined,
  ): Promise<{ session: SftpSession; hostKey: string }>;
  /**
   * The fingerprint the server presents, learnt without sending any credential (the connection is
   * dropped at host key verification). Destination rules and deadlines apply as for connect.
   */
  presentedHostKey(server: ServerRecord): Promise<string>;
}

/** A remote file's current attributes. */
export interface RemoteStat {
  size: number;
  mtime: number;
}

export interface ReadOptions {
  /**
   * Chunks are lent, not given: each is valid only until the next is requested (the reader reuses
   * its buffers instead of leaving one garbage buffer per chunk for the collector).
   */
  lendChunks?: boolean;
  /**
   * Aborting ends the read with a `timeout` SftpError and drops the connection (its requests in
   * flight could otherwise hold the read until the server answers them).
   */
  signal?: AbortSignal;
}

/** Reads one remote file, sequentially or from an offset. */
export interface SftpFileReader {
  stat(path: string): Promise<RemoteStat | undefined>;
  /** Bytes [start, end) in order, as chunks; ends early if the file is shorter. */
  read(path: string, start: number, end: number, options?: ReadOptions): AsyncIterable<Buffer>;
}
