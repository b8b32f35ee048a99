import { createHash } from 'node:crypto';
import { LeaseLostError, StoreError } from '../../lib/errors';
import type {
  ClaimResult,
  Clock,
  ConnectionSlots,
  DetectedFile,
  FileStatus,
  MultipartUploadInfo,
  ObjectMetadata,
  ObjectStore,
  StoredObject,
  TransferLedger,
  UploadedPart,
  UploadResult,
} from '../../lib/ports';

const systemClock: Clock = { now: () => new Date() };

/** A version as the in-memory files table holds it for the transfer. */
export interface LedgerEntry extends DetectedFile {
  status: FileStatus;
  attempts: number;
  leaseOwner?: string;
  /** Epoch ms. */
  leaseUntil?: number;
  upload?: { uploadId: string; key: string; partSize: number; uploadedBytes: number; hashState: string; partCount: number };
  lastError?: { code: string; message: string };
  nextAttemptAt?: string;
  result?: UploadResult;
}

/**
 * TransferLedger with the DynamoDB adapter's contract: the claim takes pending, failed, or
 * transferring under a lapsed lease and counts an attempt; every later write is the lease holder's
 * only (a lost lease is `false`, or LeaseLostError where the port's method returns nothing);
 * checkpointed parts are kept per upload id.
 */
export class InMemoryTransferLedger implements TransferLedger {
  readonly entries = new Map<string, LedgerEntry>();
  /** `<fileId>#<uploadId>` -> part number -> part. */
  readonly parts = new Map<string, Map<number, UploadedPart>>();
  readonly checkpoints: { fileId: string; uploadedBytes: number; partCount: number; parts: number[] }[] = [];

  constructor(private readonly clock: Clock = systemClock) {}

  add(file: DetectedFile, extra: Partial<LedgerEntry> = {}): LedgerEntry {
    const entry: LedgerEntry = { ...structuredClone(file), status: 'pending', attempts: 0, ...extra };
    this.entries.set(file.fileId, entry);
    return entry;
  }

  /** Another worker takes the version over (this one's lease lapsed). */
  takeOver(fileId: string, owner = 'another-worker') {
    const entry = this.entries.get(fileId)!;
    entry.leaseOwner = owner;
    entry.leaseUntil = this.clock.now().getTime() + 60_000;
  }

  private owned(fileId: string, owner: string): LedgerEntry | undefined {
    const entry = this.entries.get(fileId);
    return entry?.leaseOwner === owner ? entry : undefined;
  }

  private ownedOrThrow(fileId: string, owner: string): LedgerEntry {
    const entry = this.owned(fileId, owner);
    if (!entry) throw new LeaseLostError(fileId);
    return entry;
  }

  async claim(fileId: string, owner: string, leaseUntil: Date): Promise<ClaimResult> {
    const entry = this.entries.get(fileId);
    if (!entry) return 'missing';
    const lapsed = entry.status === 'transferring' && (entry.leaseUntil ?? 0) < this.clock.now().getTime();
    if (entry.status !== 'pending' && entry.status !== 'failed' && !lapsed) {
      if (entry.status === 'uploaded' || entry.status === 'notified') return 'done';
      return entry.status === 'transferring' ? 'busy' : 'gone';
    }
    const previousStatus = entry.status as 'pending' | 'failed' | 'transferring';
    Object.assign(entry, { status: 'transferring', leaseOwner: owner, leaseUntil: leaseUntil.getTime(), attempts: entry.attempts + 1 });
    const { status: _status, leaseOwner: _owner, leaseUntil: _until, lastError: _error, nextAttemptAt: _next, result: _result, discoveredAt: _at, upload, ...claimed } = structuredClone(entry);
    return { ...claimed, previousStatus, ...(upload ? { upload } : {}) };
  }

  async renewLease(fileId: string, owner: string, leaseUntil: Date) {
    const entry = this.owned(fileId, owner);
    if (entry) entry.leaseUntil = leaseUntil.getTime();
    return entry !== undefined;
  }

  async startUpload(fileId: string, owner: string, upload: { uploadId: string; key: string; partSize: number; hashState: string }) {
    this.ownedOrThrow(fileId, owner).upload = { ...upload, uploadedBytes: 0, partCount: 0 };
  }

  async checkpoint(fileId: string, owner: string, progress: { uploadId: string; uploadedBytes: number; hashState: string; parts: UploadedPart[]; partCount: number }) {
    // As DynamoDB: the parts' side items are written first, unconditionally.
    const stored = this.parts.get(`${fileId}#${progress.uploadId}`) ?? new Map<number, UploadedPart>();
    for (const part of progress.parts) stored.set(part.partNumber, { ...part });
    this.parts.set(`${fileId}#${progress.uploadId}`, stored);
    const entry = this.ownedOrThrow(fileId, owner);
    Object.assign(entry.upload!, { uploadedBytes: progress.uploadedBytes, hashState: progress.hashState, partCount: progress.partCount });
    this.checkpoints.push({ fileId, uploadedBytes: progress.uploadedBytes, partCount: progress.partCount, parts: progress.parts.map((part) => part.partNumber) });
  }

  async loadParts(fileId: string, uploadId: string, partCount: number) {
    const stored = [...(this.parts.get(`${fileId}#${uploadId}`)?.values() ?? [])];
    return stored.filter((part) => part.partNumber <= partCount).sort((a, b) => a.partNumber - b.partNumber);
  }

  async forgetUpload(fileId: string, owner: string) {
    delete this.ownedOrThrow(fileId, owner).upload;
  }

  async markUploaded(fileId: string, owner: string, result: UploadResult) {
    const entry = this.ownedOrThrow(fileId, owner);
    Object.assign(entry, { status: 'uploaded', result });
    for (const field of ['leaseOwner', 'leaseUntil', 'lastError', 'nextAttemptAt', 'upload'] as const) delete entry[field];
  }

  async markFailed(fileId: string, owner: string, error: { code: string; message: string }, nextAttemptAt: Date) {
    const entry = this.owned(fileId, owner);
    if (!entry) return false;
    Object.assign(entry, { status: 'failed', lastError: error, nextAttemptAt: nextAttemptAt.toISOString() });
    delete entry.leaseOwner;
    delete entry.leaseUntil;
    return true;
  }

  async markFinal(fileId: string, owner: string, status: 'vanished' | 'quarantined', error: { code: string; message: string }) {
    const entry = this.owned(fileId, owner);
    if (!entry) return false;
    Object.assign(entry, { status, lastError: error });
    for (const field of ['leaseOwner', 'leaseUntil', 'nextAttemptAt'] as const) delete entry[field];
    return true;
  }

  async release(fileId: string, owner: string) {
    const entry = this.owned(fileId, owner);
    if (!entry) return false;
    entry.status = 'pending';
    delete entry.leaseOwner;
    delete entry.leaseUntil;
    return true;
  }
}

type StoreOperation = 'putObject' | 'createMultipartUpload' | 'uploadPart' | 'listParts' | 'completeMultipartUpload' | 'abortMultipartUpload' | 'recordDigest' | 'objectSize';

const sha256 = (body: Buffer, encoding: 'hex' | 'base64') => createHash('sha256').update(body).digest(encoding);

/**
 * ObjectStore in memory, as S3 with checksums: a body whose SHA-256 does not match is refused
 * (`checksum_mismatch`), and `refuseChecksums` more sends are refused as if corrupted on the way; an
 * unknown upload id is `upload_lost`; completion needs the parts as the store holds them and makes a
 * composite checksum. `failNext` makes the next call of an operation throw; `calls` logs them all.
 */
export class InMemoryObjectStore implements ObjectStore {
  readonly bucket = 'test-bucket';
  readonly objects = new Map<string, { body: Buffer; metadata: ObjectMetadata; versionId: string; checksum: string; digest?: string }>();
  readonly uploads = new Map<string, { key: string; metadata: ObjectMetadata; parts: Map<number, UploadedPart & { body: Buffer }>; initiated: Date }>();
  readonly aborted: string[] = [];
  readonly calls: { operation: StoreOperation; partNumber?: number }[] = [];
  /** How many more sends (PUT or part) to refuse as corrupted on the way. */
  refuseChecksums = 0;
  /** False: ListParts is not supported (the emulator). */
  listsParts = true;
  private readonly failures = new Map<StoreOperation, Error>();
  private uploadCount = 0;
  private versionCount = 0;

  failNext(operation: StoreOperation, error: Error) {
    this.failures.set(operation, error);
  }

  private call(operation: StoreOperation, partNumber?: number) {
    this.calls.push({ operation, ...(partNumber === undefined ? {} : { partNumber }) });
    const failure = this.failures.get(operation);
    if (failure) {
      this.failures.delete(operation);
      throw failure;
    }
  }

  private verify(body: Buffer, expected: string, encoding: 'hex' | 'base64') {
    if (this.refuseChecksums > 0 || sha256(body, encoding) !== expected) {
      this.refuseChecksums = Math.max(0, this.refuseChecksums - 1);
      throw new StoreError('checksum_mismatch', 'the body does not match its SHA-256');
    }
  }

  private upload(uploadId: string) {
    const upload = this.uploads.get(uploadId);
    if (!upload) throw new StoreError('upload_lost', `no upload ${uploadId}`);
    return upload;
  }

  private commit(key: string, body: Buffer, metadata: ObjectMetadata, checksum: string): StoredObject {
    const versionId = `v${++this.versionCount}`;
    this.objects.set(key, { body, metadata, versionId, checksum });
    return { etag: `"${sha256(body, 'hex').slice(0, 32)}"`, versionId, checksum };
  }

  async putObject(key: string, body: Buffer, digest: string, metadata: ObjectMetadata) {
    this.call('putObject');
    this.verify(body, digest, 'hex');
    return this.commit(key, Buffer.from(body), metadata, sha256(body, 'base64'));
  }

  async createMultipartUpload(key: string, metadata: ObjectMetadata) {
    this.call('createMultipartUpload');
    const uploadId = `upload-${++this.uploadCount}`;
    this.uploads.set(uploadId, { key, metadata, parts: new Map(), initiated: new Date() });
    return uploadId;
  }

  async uploadPart(_key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string) {
    this.call('uploadPart', partNumber);
    const upload = this.upload(uploadId);
    this.verify(body, checksumSha256, 'base64');
    const etag = `"${sha256(body, 'hex').slice(0, 32)}"`;
    upload.parts.set(partNumber, { partNumber, etag, checksumSha256, body: Buffer.from(body) });
    return etag;
  }

  async listParts(_key: string, uploadId: string) {
    this.call('listParts');
    if (!this.listsParts) return 'unsupported' as const;
    return [...this.upload(uploadId).parts.values()].sort((a, b) => a.partNumber - b.partNumber).map(({ body: _body, ...part }) => part);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]) {
    this.call('completeMultipartUpload');
    const upload = this.upload(uploadId);
    const held = parts.map((part) => upload.parts.get(part.partNumber));
    if (held.some((part, index) => part?.etag !== parts[index]!.etag || part.partNumber !== index + 1)) throw new StoreError('store_rejected', 'InvalidPart');
    this.uploads.delete(uploadId);
    const checksums = Buffer.concat(held.map((part) => Buffer.from(part!.checksumSha256, 'base64')));
    return this.commit(key, Buffer.concat(held.map((part) => part!.body)), upload.metadata, `${sha256(checksums, 'base64')}-${parts.length}`);
  }

  async abortMultipartUpload(_key: string, uploadId: string) {
    this.call('abortMultipartUpload');
    this.uploads.delete(uploadId);
    this.aborted.push(uploadId);
  }

  async recordDigest(key: string, _versionId: string | undefined, digest: string) {
    this.call('recordDigest');
    this.objects.get(key)!.digest = digest;
  }

  async objectSize(key: string) {
    this.call('objectSize');
    return this.objects.get(key)?.body.length;
  }

  async listMultipartUploads(limit: number): Promise<MultipartUploadInfo[]> {
    return [...this.uploads].slice(0, limit).map(([uploadId, upload]) => ({ key: upload.key, uploadId, initiated: upload.initiated }));
  }

  /** How many times an operation was called. */
  count(operation: StoreOperation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }
}

/** ConnectionSlots in memory: `max` slots per server, each held by one owner until it lapses. */
export class InMemoryConnectionSlots implements ConnectionSlots {
  readonly held = new Map<string, { owner: string; until: number }>();

  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(serverId: string, max: number, owner: string, until: Date) {
    for (let slot = 0; slot < max; slot++) {
      const current = this.held.get(`${serverId}#${slot}`);
      if (current && current.until >= this.clock.now().getTime()) continue;
      this.held.set(`${serverId}#${slot}`, { owner, until: until.getTime() });
      return String(slot);
    }
    return undefined;
  }

  async release(serverId: string, slot: string, owner: string) {
    if (this.held.get(`${serverId}#${slot}`)?.owner === owner) this.held.delete(`${serverId}#${slot}`);
  }

  async renew(serverId: string, slot: string, owner: string, until: Date) {
    const current = this.held.get(`${serverId}#${slot}`);
    if (current?.owner !== owner) return false;
    current.until = until.getTime();
    return true;
  }

  /** Slots held for a server right now. */
  inUse(serverId: string): number {
    return [...this.held.keys()].filter((key) => key.startsWith(`${serverId}#`)).length;
  }
}
