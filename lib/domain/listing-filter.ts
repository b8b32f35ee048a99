import { compileGlob } from './glob';

/** Names uploaders give files while they are still being written; never ingested by default. */
export const TEMPORARY_NAME_PATTERNS = ['*.part', '*.tmp', '*.temp', '*.filepart', '*.partial', '*.crdownload', '*.swp', '~*'];

export interface ListingFilter {
  /** Whether a regular file at `relativePath` (relative to remoteDir, `/`-separated) is wanted. */
  wantsFile(relativePath: string): boolean;
  /** Whether to descend into the directory at `relativePath` (recursive listings only). */
  wantsDirectory(relativePath: string): boolean;
}

/**
 * Pattern semantics: a pattern without `/` is matched against the file's base name at any depth;
 * one with `/` against the path relative to remoteDir. Dot-files and dot-directories are skipped
 * unless the pattern itself names a dot (`.*`, `.env`), and temporary upload names are ignored.
 */
export function listingFilter(pattern: string): ListingFilter {
  const matcher = compileGlob(pattern);
  const matchesPath = pattern.includes('/');
  const namesDotFiles = pattern.startsWith('.') || pattern.includes('/.');
  const temporary = TEMPORARY_NAME_PATTERNS.map((glob) => compileGlob(glob));
  const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  return {
    wantsFile(relativePath) {
      const name = baseName(relativePath);
      if (name.startsWith('.') && !namesDotFiles) return false;
      if (temporary.some((glob) => glob.test(name))) return false;
      return matcher.test(matchesPath ? relativePath : name);
    },
    wantsDirectory(relativePath) {
      return !baseName(relativePath).startsWith('.') || namesDotFiles;
    },
  };
}
