import { createHash } from 'node:crypto';

/** One regular file as listed on an SFTP server. `path` is absolute on the server. */
export interface ListedFile {
  path: string;
  size: number;
  /** Modification time, whole seconds since the epoch (SFTP's resolution). */
  mtime: number;
  /**
   * Set on a directory whose name is unsafe (see remote-name.ts): the listing reports it instead of
   * descending into it (no request ever names it), so the poll quarantines it where an operator sees it.
   */
  directory?: true;
}

/**
 * A file version's identity: (server id, remote path, size, mtime). The same file with another size
 * or mtime is another version and is ingested again; an unchanged file keeps its id forever.
 * Used as the ledger key, so the conditional create on it is the dedup lock.
 */
export function fileVersionId(serverId: string, file: ListedFile): string {
  return createHash('sha256')
    .update(`${serverId}\u0000${file.path}\u0000${file.size}\u0000${file.mtime}`)
    .digest('hex')
    .slice(0, 32);
}

/**
 * 64-bit fingerprint of (path, size, mtime) for the per-server snapshot. Eight bytes per file keeps
 * the snapshot of a 10,000-file directory at 80 KB; a collision (about 1 in 10^11 for 10^4 files)
 * would at worst delay one file until its size or mtime changes.
 */
export function fingerprint(file: ListedFile): bigint {
  const digest = createHash('sha256').update(`${file.path}\u0000${file.size}\u0000${file.mtime}`).digest();
  return digest.readBigUInt64BE(0);
}

/** `/in/a/b.csv` under remoteDir `/in` is `a/b.csv`. */
export function relativeTo(remoteDir: string, path: string): string {
  const base = remoteDir === '/' ? '' : remoteDir;
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : path.replace(/^\/+/, '');
}
