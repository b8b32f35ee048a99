import { SftpError } from '../errors';

/**
 * `first-seen`: a server without a pinned hostKey is trusted on the key it presents first, which is
 * then recorded and required (SSH's own trust on first use). `pinned`: only a pinned hostKey is
 * trusted; a server without one is never sent credentials.
 */
export type HostKeyPolicy = 'first-seen' | 'pinned';
export const HOST_KEY_POLICIES = ['first-seen', 'pinned'] as const;

/**
 * The fingerprint a connection must present before credentials are sent, or undefined when the
 * first key presented is to be trusted (and recorded). Throws `host_key_not_pinned` when the policy
 * allows no connection with credentials at all.
 */
export function requiredHostKey(
  server: { hostKey: string | null },
  observedHostKey: string | null | undefined,
  policy: HostKeyPolicy,
): string | undefined {
  if (server.hostKey !== null) return server.hostKey;
  if (policy === 'pinned') {
    throw new SftpError(
      'host_key_not_pinned',
      'SFTP_HOST_KEY_POLICY is "pinned" and this server has no hostKey: no credentials are sent to it. ' +
        'POST /servers/{id}/test shows the key it presents; pin it with PATCH {"hostKey": "SHA256:..."}',
      { retryable: false },
    );
  }
  return observedHostKey ?? undefined;
}
