/** Why a remote path cannot become an object key; such a file is quarantined, never uploaded elsewhere. */
export class UnsafeKeyError extends Error {}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_KEY_BYTES = 1024;

/**
 * `<keyPrefix>/<path relative to remoteDir>`. Every segment must be a real name: no empty, `.` or
 * `..` segments and no control characters, so no remote name can climb out of the prefix or forge
 * another server's keys. S3 limits keys to 1,024 UTF-8 bytes.
 */
export function objectKey(keyPrefix: string, relativePath: string): string {
  if (CONTROL.test(relativePath)) throw new UnsafeKeyError('the remote name contains control characters');
  const segments = relativePath.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new UnsafeKeyError('the remote path has an empty, "." or ".." segment');
  }
  const key = `${keyPrefix}/${segments.join('/')}`;
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new UnsafeKeyError(`the object key would exceed ${MAX_KEY_BYTES} bytes`);
  return key;
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
