import type { Client, SFTPWrapper } from 'ssh2';
import { SftpError } from '../errors';
import type { ReadOptions } from '../ports';
import { YoungGarbageCollector } from './native-garbage';
import { withDeadline, type RequestWatchdog } from './sftp-deadlines';
import { classifySftpError, closeHandle, STATUS_EOF } from './sftp-protocol';

/** OpenSSH serves at most 256 KiB per read; 255 KiB leaves room for the packet header. */
const READ_CHUNK_BYTES = 255 * 1024;
const READ_DEPTH = 8;
/** How often a read releases ssh2's per-packet garbage (see YoungGarbageCollector). */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

/** How reads adapt to the link. */
export interface ReadTuning {
  /** Most SFTP channels one file is read over (one connection). */
  maxReadChannels: number;
  /** One more channel per this much round trip (measured on the open). */
  slowLinkRttMs: number;
}

/** Reads the files of one session, over its main channel and the extra channels a slow link earns. */
export class PipelinedReader {
  /** Channels opened for striped reads, kept for the session's next files. */
  private readonly extraChannels: SFTPWrapper[] = [];
  /** How many channels the last read used (diagnostics and tests). */
  lastReadChannels = 0;

  constructor(
    private readonly connection: Client,
    private readonly sftp: SFTPWrapper,
    private readonly watchdog: RequestWatchdog,
    private readonly tuning: ReadTuning,
  ) {}

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
    const mainHandle = await this.watchdog.answered(openForReading(this.sftp, path), `open ${path}`);
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
      const data = this.watchdog.answered(readAt(channel, handle, buffer, next, length, path, this.watchdog.noteAnswer), `read ${path}`);
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
    const { requestTimeoutMs } = this.watchdog;
    while (this.extraChannels.length < count) {
      // A server that never confirms the channel costs the read its deadline, not the transfer.
      const channel = await withDeadline(
        new Promise<SFTPWrapper | undefined>((resolve) => {
          try {
            this.connection.sftp((error, opened) => resolve(error ? undefined : opened));
          } catch {
            // ssh2 throws once the connection is no longer writable: no extra channel, like a refusal.
            resolve(undefined);
          }
        }),
        requestTimeoutMs,
        () => new SftpError('timeout', `open a read channel for ${path}: no answer`),
      ).catch(() => undefined); // an extra channel is an optimisation: without it the read goes on over the others
      if (!channel) break; // e.g. OpenSSH's MaxSessions: read with what we have
      // Its failures reach the read as failed requests (and a dead connection as `lost`); unheard,
      // an 'error' event would crash the process.
      channel.on('error', () => {});
      this.extraChannels.push(channel);
    }
    const readers = await Promise.all(
      this.extraChannels
        .slice(0, count)
        // A channel that cannot open the file is left out of this read: the main channel has it open.
        .map((channel) => this.watchdog.answered(openForReading(channel, path), `open ${path}`).then((handle) => ({ channel, handle }), () => undefined)),
    );
    return readers.filter((reader) => reader !== undefined);
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
