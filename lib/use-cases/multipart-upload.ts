import { createHash } from 'node:crypto';
import { partSizeFor } from '../domain/object-key';
import { ResumableSha256 } from '../domain/sha256';
import { errorMessage, HashStateError, LeaseLostError, StoreError } from '../errors';
import type { ClaimedFile, Logger, ObjectMetadata, ObjectStore, SftpSession, StoredObject, TransferLedger, UploadedPart } from '../ports';

export interface UploadDeps {
  ledger: TransferLedger;
  store: ObjectStore;
  logger: Logger;
  instanceId: string;
  minPartBytes: number;
  maxPartBytes: number;
  /** Parts uploading at once; memory is about (this + 1) × part size. */
  partConcurrency: number;
  /** At most one checkpoint write per this many milliseconds (0: one per part); the last is always written. */
  checkpointIntervalMs: number;
  /** True when the invocation should checkpoint and hand the rest to a fresh one. */
  shouldYield?: () => boolean;
  /** Aborted when the invocation must end: a read still going then fails as `timeout` (an attempt). */
  deadline?: AbortSignal;
}

/** The object is committed and verified; `sha256` is the whole file's digest (hex). */
export interface Uploaded {
  status: 'done';
  sha256: string;
  object: StoredObject;
  bytesRead: number;
}

export type UploadOutcome = Uploaded | { status: 'continued'; uploadedBytes: number } | { status: 'changed' };

/** Sends of one body the store refused as not matching its checksum (corrupted on the way) before giving up. */
export const CHECKSUM_SEND_ATTEMPTS = 3;

/**
 * `send` again when the store refused the bytes as not matching the checksum sent with them: the
 * body in memory is the one hashed, so a second send is a fresh chance; other failures propagate.
 */
export async function sendVerified<T>(send: () => Promise<T>, onRefused: (attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof StoreError && error.code === 'checksum_mismatch') || attempt >= CHECKSUM_SEND_ATTEMPTS) throw error;
      onRefused(attempt);
    }
  }
}

interface Resumed {
  upload: NonNullable<ClaimedFile['upload']>;
  /** Checkpointed parts, in order. */
  parts: UploadedPart[];
  digest: ResumableSha256;
  /** Parts the store holds past the checkpoint (uploaded, then the worker died before checkpointing). */
  storedAhead: Map<number, UploadedPart>;
}

/**
 * The upload to continue: the checkpointed one, cross-checked with the store's own list of its parts,
 * or a new one. A checkpoint the store contradicts (a checkpointed part missing or different, the
 * upload gone) or a digest state this build cannot restore cannot be vouched for: that upload is
 * aborted and the file started over.
 */
async function resumeOrStartUpload(file: ClaimedFile, key: string, metadata: ObjectMetadata, deps: UploadDeps): Promise<Resumed> {
  const log = { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath };
  const saved = file.upload;
  if (saved) {
    const resumed = await resume(saved, file, deps).catch((error: unknown) => {
      if (error instanceof HashStateError || (error instanceof StoreError && error.code === 'upload_lost')) return error.message;
      throw error;
    });
    if (typeof resumed !== 'string') {
      deps.logger.info('transfer_resumed', { ...log, fromByte: saved.uploadedBytes, parts: resumed.parts.length, storedAhead: resumed.storedAhead.size });
      return resumed;
    }
    deps.logger.warn('transfer_restarted', { ...log, reason: resumed });
    // Best effort: an upload left behind is the orphan sweep's (and the bucket lifecycle rule's) to remove.
    await deps.store.abortMultipartUpload(saved.key, saved.uploadId).catch(() => {});
    await deps.ledger.forgetUpload(file.fileId, deps.instanceId);
  }
  const partSize = partSizeFor(file.size, deps.minPartBytes, deps.maxPartBytes);
  const uploadId = await deps.store.createMultipartUpload(key, metadata);
  const digest = await ResumableSha256.create();
  const hashState = digest.save();
  await deps.ledger.startUpload(file.fileId, deps.instanceId, { uploadId, key, partSize, hashState });
  return { upload: { uploadId, key, partSize, uploadedBytes: 0, hashState, partCount: 0 }, parts: [], digest, storedAhead: new Map() };
}

async function resume(saved: NonNullable<ClaimedFile['upload']>, file: ClaimedFile, deps: UploadDeps): Promise<Resumed | string> {
  const digest = await ResumableSha256.create(saved.hashState);
  const parts = await deps.ledger.loadParts(file.fileId, saved.uploadId, saved.partCount);
  const listed = await deps.store.listParts(saved.key, saved.uploadId);
  const storedAhead = new Map<number, UploadedPart>();
  if (listed !== 'unsupported') {
    const held = new Map(listed.map((part) => [part.partNumber, part]));
    const contradicted = parts.find((part) => held.get(part.partNumber)?.etag !== part.etag);
    if (contradicted) return `the store does not hold checkpointed part ${contradicted.partNumber} as recorded`;
    for (const part of listed) if (part.partNumber > saved.partCount) storedAhead.set(part.partNumber, part);
  }
  return { upload: saved, parts, digest, storedAhead };
}

/**
 * Streams a file into a multipart upload in constant memory, resuming from the last checkpoint.
 *
 * - Parts are assembled in reused buffers: at most `partConcurrency` uploading plus the one filling,
 *   allocated once, whatever the file size. Each part goes with its SHA-256; one the store refuses as
 *   corrupted is sent again.
 * - Parts finish out of order; the checkpoint (parts, byte offset, digest state) advances over the
 *   contiguous prefix only, one write at a time (at most one per interval), never moving back.
 * - A part the store already holds with the same checksum (uploaded before a crash, never
 *   checkpointed) is not sent again; the file's bytes are still read for the whole-file digest.
 * - At the end the byte count and the file's size/mtime are checked before the upload is completed;
 *   the committed object's size is checked, and its digest recorded on it (a tag) where enabled.
 */
export async function uploadInParts(
  file: ClaimedFile,
  key: string,
  session: SftpSession,
  metadata: ObjectMetadata,
  deps: UploadDeps,
  leaseLost: () => boolean,
  unchanged: () => Promise<boolean>,
): Promise<UploadOutcome> {
  const { upload, parts, digest: runningDigest, storedAhead } = await resumeOrStartUpload(file, key, metadata, deps);
  const { uploadId, partSize } = upload;
  const log = { fileId: file.fileId, serverId: file.serverId, serverName: file.serverName, remotePath: file.remotePath };
  let offset = upload.uploadedBytes;
  let bytesRead = 0;

  const hashStates = new Map<number, string>();
  const finished = new Map<number, UploadedPart>();
  let checkpointed = parts.length;
  const inflight = new Set<Promise<void>>();
  let failure: unknown;

  // Rate-limited: a write per part cost DynamoDB Local half a core (measured); a crash loses at most
  // one interval, and parts the store holds past the checkpoint are not sent again (ListParts).
  let checkpointing = Promise.resolve();
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let deferred: NodeJS.Timeout | undefined;
  /** Queues a checkpoint write now, or once the interval since the last one has passed (`now`: regardless). */
  const advanceCheckpoint = (now = false): Promise<void> => {
    const wait = lastWriteAt + deps.checkpointIntervalMs - Date.now();
    if (!now && wait > 0) {
      deferred ??= setTimeout(() => {
        deferred = undefined;
        void advanceCheckpoint();
      }, wait);
      return checkpointing;
    }
    clearTimeout(deferred);
    deferred = undefined;
    lastWriteAt = Date.now();
    checkpointing = checkpointing.then(writeCheckpoint).catch((error: unknown) => {
      failure ??= error;
    });
    return checkpointing;
  };
  const writeCheckpoint = async () => {
    if (failure) return;
    const newParts: UploadedPart[] = [];
    while (finished.has(checkpointed + 1)) {
      const part = finished.get(checkpointed + 1)!;
      finished.delete(part.partNumber);
      newParts.push(part);
      parts.push(part);
      checkpointed++;
    }
    if (newParts.length === 0) return;
    const last = newParts.at(-1)!.partNumber;
    await deps.ledger.checkpoint(file.fileId, deps.instanceId, {
      uploadId,
      uploadedBytes: Math.min(file.size, last * partSize),
      hashState: hashStates.get(last)!,
      parts: newParts,
      partCount: checkpointed,
    });
    for (const part of newParts) hashStates.delete(part.partNumber);
  };
  /** Every part sent is finished and checkpointed (or the first failure is thrown). */
  const settle = async () => {
    await Promise.all(inflight);
    await advanceCheckpoint(true);
    if (failure) throw failure;
  };

  const sendPart = async (number: number, body: Buffer, checksum: string): Promise<string> => {
    const held = storedAhead.get(number);
    if (held?.checksumSha256 === checksum) {
      deps.logger.info('part_already_stored', { ...log, partNumber: number });
      return held.etag;
    }
    return sendVerified(
      () => deps.store.uploadPart(key, uploadId, number, body, checksum),
      (attempt) => deps.logger.warn('checksum_refused', { ...log, partNumber: number, attempt }),
    );
  };

  const spareBuffers: Buffer[] = [];
  let part: Buffer = Buffer.allocUnsafeSlow(partSize);
  let filled = 0;
  let partNumber = checkpointed + 1;
  const flushPart = async () => {
    const buffer = part;
    const body = buffer.subarray(0, filled);
    const number = partNumber++;
    hashStates.set(number, runningDigest.save());
    const checksum = createHash('sha256').update(body).digest('base64');
    while (inflight.size >= deps.partConcurrency) await Promise.race(inflight);
    if (failure) throw failure;
    part = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(partSize);
    filled = 0;
    const task = sendPart(number, body, checksum)
      .then((etag) => {
        finished.set(number, { partNumber: number, etag, checksumSha256: checksum });
        void advanceCheckpoint();
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => {
        spareBuffers.push(buffer);
        inflight.delete(task);
      });
    inflight.add(task);
  };

  try {
    return await streamParts();
  } finally {
    clearTimeout(deferred);
  }

  async function streamParts(): Promise<UploadOutcome> {
    for await (const chunk of session.read(file.remotePath, offset, file.size, { lendChunks: true, ...(deps.deadline ? { signal: deps.deadline } : {}) })) {
      if (leaseLost()) throw new LeaseLostError(file.fileId);
      if (failure) throw failure;
      bytesRead += chunk.length;
      let rest = chunk;
      while (rest.length > 0) {
        const take = Math.min(partSize - filled, rest.length);
        // Hash slice by slice so the state saved at a part boundary is exactly the prefix's state.
        runningDigest.update(rest.subarray(0, take));
        rest.copy(part, filled, 0, take);
        filled += take;
        rest = rest.subarray(take);
        if (filled === partSize) {
          await flushPart();
          if (deps.shouldYield?.()) {
            await settle();
            return { status: 'continued', uploadedBytes: checkpointed * partSize };
          }
        }
      }
    }
    if (filled > 0) await flushPart();
    await settle();
    offset += bytesRead;
    if (offset !== file.size || !(await unchanged())) {
      // Best effort: the sweep aborts what this leaves behind.
      await deps.store.abortMultipartUpload(key, uploadId).catch(() => {});
      return { status: 'changed' };
    }
    const sha256 = runningDigest.digest().toString('hex');
    const object = await deps.store.completeMultipartUpload(key, uploadId, parts);
    const storedSize = await deps.store.objectSize(key, object.versionId);
    if (storedSize !== file.size) throw new StoreError('store_rejected', `stored object is ${storedSize} bytes, expected ${file.size}`);
    try {
      await deps.store.recordDigest(key, object.versionId, sha256);
    } catch (error) {
      // The object is committed and verified; the ledger and the announcement carry the digest. A
      // retry here would upload the file again as a new object version.
      deps.logger.warn('object_digest_tag_failed', { ...log, key, error: errorMessage(error) });
    }
    return { status: 'done', sha256, object, bytesRead: offset };
  }
}
