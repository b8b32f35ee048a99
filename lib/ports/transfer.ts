import type { DetectedFile } from '../domain/file-version';

// The transfer's ports: its view of the ledger and the object store.

export interface UploadedPart {
  partNumber: number;
  etag: string;
  checksumSha256: string;
}

/** A ledger entry as the transfer sees it after claiming it. */
export interface ClaimedFile extends Omit<DetectedFile, 'discoveredAt'> {
  attempts: number;
  /** The status the claim took it from. */
  previousStatus: 'pending' | 'failed' | 'transferring';
  /** Resume state of an interrupted multipart upload. */
  upload?: { uploadId: string; key: string; partSize: number; uploadedBytes: number; hashState: string; partCount: number };
}

export type ClaimResult = ClaimedFile | 'done' | 'busy' | 'gone' | 'missing';

export interface UploadResult {
  key: string;
  bucket: string;
  sha256: string;
  etag: string;
  versionId?: string;
  /** The store's own SHA-256 checksum of the object (base64; `-<parts>` for a composite of parts). */
  objectChecksum?: string;
}

/** The transfer's view of the files table: a claim with a lease, progress checkpoints, outcomes. */
export interface TransferLedger {
  /**
   * Claims a version for transfer when it is pending, failed, or transferring under a lapsed lease
   * (its worker died). 'done' when already uploaded or notified, 'busy' when a live worker holds it,
   * 'gone' when vanished or quarantined.
   */
  claim(fileId: string, owner: string, leaseUntil: Date): Promise<ClaimResult>;
  /** Extends the lease; false when it was lost (another worker took over). */
  renewLease(fileId: string, owner: string, leaseUntil: Date): Promise<boolean>;
  startUpload(fileId: string, owner: string, upload: { uploadId: string; key: string; partSize: number; hashState: string }): Promise<void>;
  /** Persists completed parts and the contiguous prefix they cover, with the digest state there. */
  checkpoint(fileId: string, owner: string, progress: { uploadId: string; uploadedBytes: number; hashState: string; parts: UploadedPart[]; partCount: number }): Promise<void>;
  loadParts(fileId: string, uploadId: string, partCount: number): Promise<UploadedPart[]>;
  forgetUpload(fileId: string, owner: string): Promise<void>;
  markUploaded(fileId: string, owner: string, result: UploadResult): Promise<void>;
  /** Retryable failure: back to `failed` with the lease released; false when the lease was lost (nothing changed). */
  markFailed(fileId: string, owner: string, error: { code: string; message: string }, nextAttemptAt: Date): Promise<boolean>;
  /** False when the lease was lost (nothing changed). */
  markFinal(fileId: string, owner: string, status: 'vanished' | 'quarantined', error: { code: string; message: string }): Promise<boolean>;
  /**
   * Hands the claim on to the next delivery (which continues the upload). The attempt stays
   * counted: a file gets at most maxAttempts invocations however each ends, so a server that
   * trickles bytes forever ends quarantined instead of holding a slot in an endless loop. False
   * when the lease was lost (nothing changed).
   */
  release(fileId: string, owner: string): Promise<boolean>;
}

/** Where an object came from, stored as its user metadata. */
export interface ObjectMetadata {
  fileId: string;
  sourcePath: string;
  sourceMtime: string;
  serverName: string;
}

/** An object (version) as the store committed it. */
export interface StoredObject {
  etag: string;
  /** Only when the bucket is versioned. */
  versionId?: string;
  /** The store's SHA-256 checksum: the whole object's for a single PUT, a composite for multipart. */
  checksum?: string;
}

/**
 * S3 or MinIO. Every body goes with its SHA-256 and the store refuses one that does not match
 * (StoreError `checksum_mismatch`); failures are StoreErrors with a code and `retryable`.
 */
export interface ObjectStore {
  readonly bucket: string;
  /** One PUT; `sha256` (hex, the whole file's) is also recorded on the object (a tag) where enabled. */
  putObject(key: string, body: Buffer, sha256: string, metadata: ObjectMetadata): Promise<StoredObject>;
  createMultipartUpload(key: string, metadata: ObjectMetadata): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string): Promise<string>;
  /** The parts the store holds for an upload; 'unsupported' when it cannot list them. */
  listParts(key: string, uploadId: string): Promise<UploadedPart[] | 'unsupported'>;
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<StoredObject>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** Records the whole file's SHA-256 (hex) on a committed object without copying it (a tag), where enabled. */
  recordDigest(key: string, versionId: string | undefined, sha256: string): Promise<void>;
  /** Size of a stored object (that version), or undefined when absent. */
  objectSize(key: string, versionId?: string): Promise<number | undefined>;
  /** Multipart uploads in progress (at most about `limit`); 'unsupported' when the store cannot list them. */
  listMultipartUploads(limit: number): Promise<MultipartUploadInfo[] | 'unsupported'>;
}

export interface MultipartUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}
