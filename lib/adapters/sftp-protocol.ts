import type { SFTPWrapper } from 'ssh2';
import { escapeUnsafeText } from '../domain/remote-name';
import { SftpError, type SftpErrorCode } from '../errors';
import { settleWithin } from './sftp-deadlines';

export const STATUS_EOF = 1;
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

/** On a dead connection a close request is never answered: do not wait for it forever. */
export function closeHandle(channel: SFTPWrapper, handle: Buffer): Promise<void> {
  return settleWithin(
    new Promise<void>((resolve) => {
      try {
        channel.close(handle, () => resolve());
      } catch {
        // A close that cannot even be sent leaves nothing to wait for: the server frees a handle with its channel.
        resolve();
      }
    }),
    2000,
  );
}
