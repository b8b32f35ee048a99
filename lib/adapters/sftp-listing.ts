import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import type { ListedFile } from '../domain/file-identity';
import { ListingBudget, type ListingBounds } from '../domain/listing-bounds';
import type { ListingFilter } from '../domain/listing-filter';
import { isSafeComponent } from '../domain/remote-name';
import type { DirectoryEntry } from '../ports';
import type { RequestWatchdog } from './sftp-deadlines';
import { classifySftpError, closeHandle, STATUS_EOF } from './sftp-protocol';

/** Lists and stats over one session's main channel. */
export class DirectoryLister {
  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly watchdog: RequestWatchdog,
  ) {}

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

  /** The attributes of `path`, links followed. */
  statRaw(path: string): Promise<Stats> {
    return this.watchdog.answered(
      new Promise((resolve, reject) =>
        this.sftp.stat(path, (error, stats) => (error ? reject(classifySftpError(error, `stat ${path}`)) : resolve(stats))),
      ),
      `stat ${path}`,
    );
  }

  private async *readDirectoryPages(path: string): AsyncIterable<FileEntryWithStats[]> {
    const handle = await this.watchdog.answered(
      new Promise<Buffer>((resolve, reject) =>
        this.sftp.opendir(path, (error, value) => (error ? reject(classifySftpError(error, `opendir ${path}`)) : resolve(value))),
      ),
      `opendir ${path}`,
    );
    try {
      while (true) {
        const page = await this.watchdog.answered(
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
}
