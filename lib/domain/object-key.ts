import { UnsafeKeyError } from '../errors';
import { unsafeNameReason } from './remote-name';


/**
 * `<keyPrefix>/<path relative to remoteDir>`, for a name that passes unsafeNameReason (no name can
 * climb out of the prefix, forge another server's keys or carry control characters; S3 limits keys
 * to 1,024 UTF-8 bytes). A poll quarantines unsafe names before they get a transfer job; this check
 * stays for versions detected before that rule and for a keyPrefix changed since.
 */
export function objectKey(keyPrefix: string, relativePath: string): string {
  const reason = unsafeNameReason(relativePath, keyPrefix);
  if (reason !== undefined) throw new UnsafeKeyError(reason);
  return `${keyPrefix}/${relativePath}`;
}

/**
 * Part size for a multipart upload: at least `minBytes`, large enough that the file fits in 9,000
 * parts (S3 allows 10,000; the rest is headroom), a whole number of MiB, and at most `maxBytes`.
 * Throws when even `maxBytes` parts cannot hold the file.
 */
export function partSizeFor(size: number, minBytes: number, maxBytes: number): number {
  const MiB = 1024 * 1024;
  const needed = Math.ceil(Math.ceil(size / 9000) / MiB) * MiB;
  const partSize = Math.max(minBytes, needed);
  if (partSize > maxBytes) {
    if (Math.ceil(size / maxBytes) > 10_000) throw new RangeError(`a ${size}-byte file needs parts over ${maxBytes} bytes`);
    return maxBytes;
  }
  return partSize;
}
