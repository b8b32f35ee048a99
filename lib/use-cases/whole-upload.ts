import { createHash } from 'node:crypto';
import type { ClaimedFile, ObjectMetadata, SftpSession } from '../ports';
import { sendVerified, type UploadDeps, type UploadOutcome } from './multipart-upload';

/** A file smaller than one part: read whole, one PUT with its SHA-256. */
export async function uploadWhole(
  file: ClaimedFile,
  key: string,
  session: SftpSession,
  metadata: ObjectMetadata,
  deps: UploadDeps,
  unchanged: () => Promise<boolean>,
): Promise<UploadOutcome> {
  const chunks: Buffer[] = [];
  for await (const chunk of session.read(file.remotePath, 0, file.size, deps.deadline ? { signal: deps.deadline } : {})) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  if (body.length !== file.size || !(await unchanged())) return { status: 'changed' };
  const sha256 = createHash('sha256').update(body).digest('hex');
  const object = await sendVerified(
    () => deps.store.putObject(key, body, sha256, metadata),
    (attempt) => deps.logger.warn('checksum_refused', { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath, attempt }),
  );
  return { status: 'done', sha256, object, bytesRead: body.length };
}
