import { z } from 'zod';
import { requiredHostKey, type HostKeyPolicy } from '../domain/host-key';
import { escapeName } from '../domain/remote-name';
import { errorSummary, ExternalError, NotFoundError, SftpError } from '../errors';
import type { Logger, PollStateStore, SecretStore, ServerStore, SftpConnector, SftpSession } from '../ports';

export interface ServerTestDeps {
  servers: Pick<ServerStore, 'get'>;
  secrets: Pick<SecretStore, 'read'>;
  pollState: Pick<PollStateStore, 'get'>;
  /** A connector whose request deadline fits in an HTTP request. */
  sftp: SftpConnector;
  hostKeyPolicy: HostKeyPolicy;
  /** The whole check ends within this, whatever the server does. */
  deadlineMs: number;
  logger: Logger;
}

/** Entries of `remoteDir` a test shows (its first page, at most). */
export const TEST_ENTRIES = 100;

/** What POST /servers/{id}/test answers (one declaration: the type and the OpenAPI schema). */
export const ServerTestResultSchema = z.object({
  ok: z.boolean().describe('Connected, the host key trusted, logged in and remoteDir listed'),
  hostKey: z.string().nullable().describe('The SHA256: fingerprint the server presented; null when no connection got that far'),
  hostKeyTrusted: z.boolean().describe('The presented key is the pinned one or, with none pinned, the one recorded on first sight'),
  authenticated: z.boolean().describe('Logged in with the stored credentials (only tried when the key is trusted)'),
  entries: z
    .array(z.object({ name: z.string(), type: z.enum(['file', 'directory', 'symlink', 'other']), size: z.int().nullable(), mtime: z.iso.datetime().nullable() }))
    .nullable()
    .describe(`The first page of remoteDir (at most ${TEST_ENTRIES} entries, names escaped); null when not listed`),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type ServerTestResult = z.infer<typeof ServerTestResultSchema>;

/**
 * Checks a server now, as AWS Transfer Family's TestConnection does, changing nothing: learns the
 * host key it presents without offering a credential; only when that key is trusted logs in (with
 * the stored credentials, which thus only ever go to a trusted key) and lists the first page of
 * remoteDir. An unknown key is reported, not trusted: an operator can pin it. Failures are part of
 * the result (`ok: false` with a code), not errors of the request.
 */
export async function testServer(id: string, deps: ServerTestDeps): Promise<ServerTestResult> {
  const server = await deps.servers.get(id);
  if (!server) throw new NotFoundError(`no server with id ${id}`);
  const result: ServerTestResult = { ok: false, hostKey: null, hostKeyTrusted: false, authenticated: false, entries: null, error: null };
  let session: SftpSession | undefined;
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    result.hostKey = await deps.sftp.presentedHostKey(server);
    // The same rule as the poller's: under `pinned` a recorded key is not enough (host_key_not_pinned).
    const observed = server.hostKey === null ? (await deps.pollState.get(id))?.observedHostKey : undefined;
    const expected = requiredHostKey(server, observed, deps.hostKeyPolicy);
    if (expected === undefined) {
      throw new SftpError('host_key_unknown', 'no host key is pinned or recorded for this server yet: check the fingerprint with the partner and pin it (PATCH hostKey)');
    }
    if (result.hostKey !== expected) {
      throw new SftpError('host_key_mismatch', `the server presents ${result.hostKey}, not the ${server.hostKey ? 'pinned' : 'recorded'} ${expected}`);
    }
    result.hostKeyTrusted = true;
    const credentials = await deps.secrets.read(server.secretArn);
    const connection = await deps.sftp.connect(server, credentials, expected);
    if (expired) return void (await connection.session.close());
    session = connection.session;
    result.authenticated = true;
    const entries = await session.firstEntries(server.remoteDir, TEST_ENTRIES);
    result.entries = entries.map((entry) => ({ name: escapeName(entry.name), type: entry.type, size: entry.size, mtime: entry.mtime === null ? null : new Date(entry.mtime * 1000).toISOString() }));
    result.ok = true;
  };
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SftpError('timeout', `the check did not finish within ${Math.round(deps.deadlineMs / 1000)} s`)), deps.deadlineMs);
      }),
    ]);
  } catch (error) {
    expired = true;
    result.ok = false;
    if (error instanceof ExternalError) {
      result.error = { code: error.code, message: error.message };
    } else {
      deps.logger.error('server_test_failed', { serverId: id, error: errorSummary(error) });
      result.error = { code: 'internal', message: 'unexpected error while testing the server (see the API log)' };
    }
  } finally {
    clearTimeout(timer);
    await session?.close();
  }
  return result;
}
