import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  NotFound,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { MultipartUploadInfo, ObjectMetadata, ObjectStore, UploadedPart } from '../ports';

/**
 * S3 or MinIO. Every part and single upload carries its SHA-256 (x-amz-checksum-sha256) so the store
 * verifies what it received; user metadata records the whole-file digest and the file's origin.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(private readonly options: { client: S3Client; bucket: string; /** Largest object CopyObject takes (S3: 5 GiB). */ maxCopyBytes?: number }) {}

  get bucket(): string {
    return this.options.bucket;
  }

  private metadata(metadata: ObjectMetadata): Record<string, string> {
    return {
      sha256: metadata.sha256,
      'source-path': encodeURIComponent(metadata.sourcePath),
      'source-mtime': metadata.sourceMtime,
      'server-name': metadata.serverName,
    };
  }

  async putObject(key: string, body: Buffer, checksumSha256: string, metadata: ObjectMetadata) {
    const result = await this.options.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ChecksumSHA256: checksumSha256,
        Metadata: this.metadata(metadata),
      }),
    );
    return { etag: result.ETag ?? '', ...(result.VersionId ? { versionId: result.VersionId } : {}) };
  }

  async createMultipartUpload(key: string, metadata: ObjectMetadata): Promise<string> {
    const { UploadId } = await this.options.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ChecksumAlgorithm: 'SHA256', Metadata: this.metadata(metadata) }),
    );
    if (!UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    return UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string): Promise<string> {
    const { ETag } = await this.options.client.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length,
        ChecksumSHA256: checksumSha256,
      }),
    );
    if (!ETag) throw new Error(`UploadPart ${partNumber} returned no ETag`);
    return ETag;
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]) {
    const result = await this.options.client.send(
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
    );
    return { etag: result.ETag ?? '', ...(result.VersionId ? { versionId: result.VersionId } : {}) };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.options.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
  }

  async replaceMetadata(key: string, metadata: ObjectMetadata, size: number) {
    if (size > (this.options.maxCopyBytes ?? 5 * 1024 ** 3)) return undefined;
    const result = await this.options.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        Metadata: this.metadata(metadata),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    return { etag: result.CopyObjectResult?.ETag ?? '', ...(result.VersionId ? { versionId: result.VersionId } : {}) };
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
      // Some S3-compatible stores (fauxqs among them) do not implement the listing.
      const name = (error as { name?: string; $metadata?: { httpStatusCode?: number } }).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === 'NotImplemented' || status === 501 || status === 405) return 'unsupported';
      throw error;
    }
    return uploads;
  }

  async headSize(key: string): Promise<number | undefined> {
    try {
      const { ContentLength } = await this.options.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return ContentLength;
    } catch (error) {
      if (error instanceof NotFound || (error as { name?: string }).name === 'NotFound') return undefined;
      throw error;
    }
  }
}
