import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorMessage, StoreError, type StoreErrorCode } from '../errors';
import type { MultipartUploadInfo, ObjectMetadata, ObjectStore, StoredObject, UploadedPart } from '../ports';

/**
 * S3 or MinIO. Every part and single upload carries its SHA-256 (x-amz-checksum-sha256), so the store
 * verifies what it received and keeps its own checksum of the object. The whole file's SHA-256 is
 * known only after the last part: it goes into the ledger and the announcement, and (with `tagObjects`)
 * into the object's `sha256` tag, which copies no data (a self-copy to rewrite metadata would double
 * every file's S3 work and cannot exceed 5 GiB on AWS). User metadata records the file's origin.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly options: {
      client: S3Client;
      bucket: string;
      /** Tag each object with `sha256=<hex>`. Off for stores without object tagging (the emulator). */
      tagObjects?: boolean;
    },
  ) {}

  get bucket(): string {
    return this.options.bucket;
  }

  private get tagObjects(): boolean {
    return this.options.tagObjects ?? true;
  }

  private metadata(metadata: ObjectMetadata): Record<string, string> {
    return {
      'file-id': metadata.fileId,
      'source-path': encodeURIComponent(metadata.sourcePath),
      'source-mtime': metadata.sourceMtime,
      'server-name': metadata.serverName,
    };
  }

  async putObject(key: string, body: Buffer, sha256: string, metadata: ObjectMetadata): Promise<StoredObject> {
    const result = await guarded(
      this.options.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
          Metadata: this.metadata(metadata),
          ...(this.tagObjects ? { Tagging: `sha256=${sha256}` } : {}),
        }),
      ),
    );
    return stored(result);
  }

  async createMultipartUpload(key: string, metadata: ObjectMetadata): Promise<string> {
    const { UploadId } = await guarded(
      this.options.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ChecksumAlgorithm: 'SHA256', Metadata: this.metadata(metadata) }),
      ),
    );
    if (!UploadId) throw new StoreError('store_rejected', 'CreateMultipartUpload returned no UploadId');
    return UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string): Promise<string> {
    const { ETag } = await guarded(
      this.options.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
          ChecksumSHA256: checksumSha256,
        }),
      ),
    );
    if (!ETag) throw new StoreError('store_rejected', `UploadPart ${partNumber} returned no ETag`);
    return ETag;
  }

  async listParts(key: string, uploadId: string): Promise<UploadedPart[] | 'unsupported'> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.options.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
        for (const part of page.Parts ?? []) {
          if (part.PartNumber && part.ETag) parts.push({ partNumber: part.PartNumber, etag: part.ETag, checksumSha256: part.ChecksumSHA256 ?? '' });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      // The emulator answers ListParts with NoSuchKey: it does not implement the listing.
      if (errorName(error) === 'NoSuchKey' || errorName(error) === 'NotImplemented') return 'unsupported';
      throw classify(error);
    }
    return parts;
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<StoredObject> {
    const result = await guarded(
      this.options.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [...parts]
              .sort((a, b) => a.partNumber - b.partNumber)
              .map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, ChecksumSHA256: part.checksumSha256 })),
          },
        }),
      ),
    );
    return stored(result);
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await guarded(this.options.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })));
  }

  async recordDigest(key: string, versionId: string | undefined, sha256: string): Promise<void> {
    if (!this.tagObjects) return;
    await guarded(
      this.options.client.send(
        new PutObjectTaggingCommand({ Bucket: this.bucket, Key: key, VersionId: versionId, Tagging: { TagSet: [{ Key: 'sha256', Value: sha256 }] } }),
      ),
    );
  }

  async listMultipartUploads(limit: number): Promise<MultipartUploadInfo[] | 'unsupported'> {
    const uploads: MultipartUploadInfo[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await this.options.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const upload of page.Uploads ?? []) {
          if (upload.Key && upload.UploadId && upload.Initiated) uploads.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated });
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined && uploads.length < limit);
    } catch (error) {
      // Some S3-compatible stores (the emulator among them) do not implement the listing.
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (errorName(error) === 'NotImplemented' || status === 501 || status === 405) return 'unsupported';
      throw classify(error);
    }
    return uploads;
  }

  async objectSize(key: string, versionId?: string): Promise<number | undefined> {
    try {
      const { ContentLength } = await this.options.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
      return ContentLength;
    } catch (error) {
      if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchKey') return undefined;
      throw classify(error);
    }
  }

}

/** The request's result, or its failure as a StoreError. */
async function guarded<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    throw classify(error);
  }
}

function stored(result: { ETag?: string; VersionId?: string; ChecksumSHA256?: string }): StoredObject {
  return {
    etag: result.ETag ?? '',
    ...(result.VersionId ? { versionId: result.VersionId } : {}),
    ...(result.ChecksumSHA256 ? { checksum: result.ChecksumSHA256 } : {}),
  };
}

const errorName = (error: unknown) => (error as { name?: string }).name ?? 'Error';

const CODES: Record<string, StoreErrorCode> = {
  XAmzContentChecksumMismatch: 'checksum_mismatch',
  BadDigest: 'checksum_mismatch',
  InvalidDigest: 'checksum_mismatch',
  NoSuchUpload: 'upload_lost',
  AccessDenied: 'access_denied',
  InvalidAccessKeyId: 'access_denied',
  SignatureDoesNotMatch: 'access_denied',
  NoSuchBucket: 'bucket_missing',
  InvalidBucketName: 'bucket_missing',
};

/** One StoreError per failure: the S3 error name picks the code; 5xx and network failures are `store_unavailable`. */
export function classify(error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const name = errorName(error);
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const code: StoreErrorCode = CODES[name] ?? (status !== undefined && status < 500 ? 'store_rejected' : 'store_unavailable');
  const message = errorMessage(error);
  return new StoreError(code, `${name}: ${message}`, { cause: error });
}
