import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { LeaseLostError } from '../errors';
import type { ClaimResult, TransferLedger, UploadedPart, UploadResult } from '../ports';
import { conditionally } from './dynamodb-conditions';
import { DetectedFileItem, detectedFields } from './dynamodb-file-catalog';

/**
 * Transfer state in the files table. The version's item (key `fileId`) carries the status, the
 * lease (`leaseOwner`, `leaseUntil` epoch ms) and the resume point of its multipart upload
 * (`uploadId`, `objectKey`, `partSize`, `uploadedBytes`, `hashState`, `partCount`). Completed parts
 * live in side items `<fileId>#parts#<uploadId>#<n>`, a thousand parts each (attributes
 * `p<partNumber>` = "etag checksum"), so a 10,000-part upload never outgrows DynamoDB's 400 KB item.
 */
const PARTS_PER_ITEM = 1000;
const partsKey = (fileId: string, uploadId: string, chunk: number) => `${fileId}#parts#${uploadId}#${chunk}`;

const ClaimedItem = DetectedFileItem.extend({
  status: z.enum(['pending', 'failed', 'transferring']),
  attempts: z.number(),
  uploadId: z.string().optional(),
  objectKey: z.string().optional(),
  partSize: z.number().optional(),
  uploadedBytes: z.number().optional(),
  hashState: z.string().optional(),
  partCount: z.number().optional(),
});

export class DynamoTransferLedger implements TransferLedger {
  private readonly documents: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
    this.table = options.table;
  }

  /** An update that only the lease holder may make; false when the lease was lost. */
  private asOwner(fileId: string, owner: string, update: string, values: Record<string, unknown>, names: Record<string, string> = {}) {
    return conditionally(
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { fileId },
          UpdateExpression: update,
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner, ...values },
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        }),
      ),
    );
  }

  private async asOwnerOrThrow(fileId: string, owner: string, update: string, values: Record<string, unknown>, names: Record<string, string> = {}) {
    if (!(await this.asOwner(fileId, owner, update, values, names))) throw new LeaseLostError(fileId);
  }

  async claim(fileId: string, owner: string, leaseUntil: Date): Promise<ClaimResult> {
    const now = new Date();
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { fileId },
          UpdateExpression:
            'SET #status = :transferring, statusSince = :now, leaseOwner = :owner, leaseUntil = :until, attempts = if_not_exists(attempts, :zero) + :one',
          ConditionExpression:
            'attribute_exists(fileId) AND (#status IN (:pending, :failed) OR (#status = :transferring AND leaseUntil < :nowMs))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':transferring': 'transferring',
            ':pending': 'pending',
            ':failed': 'failed',
            ':now': now.toISOString(),
            ':nowMs': now.getTime(),
            ':owner': owner,
            ':until': leaseUntil.getTime(),
            ':zero': 0,
            ':one': 1,
          },
          // The item as it was: the status it leaves is the stats' transition; the rest is unchanged but attempts.
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const item = ClaimedItem.parse(Attributes);
      return {
        ...detectedFields(item),
        attempts: item.attempts + 1,
        previousStatus: item.status,
        ...(item.uploadId && item.objectKey && item.partSize && item.hashState !== undefined
          ? {
              upload: {
                uploadId: item.uploadId,
                key: item.objectKey,
                partSize: item.partSize,
                uploadedBytes: item.uploadedBytes ?? 0,
                hashState: item.hashState,
                partCount: item.partCount ?? 0,
              },
            }
          : {}),
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!error.Item) return 'missing';
      const status = String(unmarshall(error.Item).status);
      if (status === 'uploaded' || status === 'notified') return 'done';
      if (status === 'transferring') return 'busy';
      return 'gone';
    }
  }

  renewLease(fileId: string, owner: string, leaseUntil: Date): Promise<boolean> {
    return this.asOwner(fileId, owner, 'SET leaseUntil = :until', { ':until': leaseUntil.getTime() });
  }

  async startUpload(fileId: string, owner: string, upload: { uploadId: string; key: string; partSize: number; hashState: string }) {
    await this.asOwnerOrThrow(
      fileId,
      owner,
      'SET uploadId = :uploadId, objectKey = :key, partSize = :partSize, uploadedBytes = :zero, hashState = :hashState, partCount = :zero',
      { ':uploadId': upload.uploadId, ':key': upload.key, ':partSize': upload.partSize, ':zero': 0, ':hashState': upload.hashState },
    );
  }

  async checkpoint(
    fileId: string,
    owner: string,
    progress: { uploadId: string; uploadedBytes: number; hashState: string; parts: UploadedPart[]; partCount: number },
  ) {
    const byChunk = new Map<number, UploadedPart[]>();
    for (const part of progress.parts) {
      const chunk = Math.floor((part.partNumber - 1) / PARTS_PER_ITEM);
      byChunk.set(chunk, [...(byChunk.get(chunk) ?? []), part]);
    }
    for (const [chunk, parts] of byChunk) {
      const names = Object.fromEntries(parts.map((part) => [`#p${part.partNumber}`, `p${part.partNumber}`]));
      const values = Object.fromEntries(parts.map((part) => [`:p${part.partNumber}`, `${part.etag} ${part.checksumSha256}`]));
      await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { fileId: partsKey(fileId, progress.uploadId, chunk) },
          UpdateExpression: `SET ${parts.map((part) => `#p${part.partNumber} = :p${part.partNumber}`).join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    }
    await this.asOwnerOrThrow(
      fileId,
      owner,
      'SET uploadedBytes = :bytes, hashState = :hashState, partCount = :count',
      { ':bytes': progress.uploadedBytes, ':hashState': progress.hashState, ':count': progress.partCount },
    );
  }

  async loadParts(fileId: string, uploadId: string, partCount: number): Promise<UploadedPart[]> {
    const chunks = Math.ceil(partCount / PARTS_PER_ITEM);
    const keys = Array.from({ length: chunks }, (_, chunk) => ({ fileId: partsKey(fileId, uploadId, chunk) }));
    const parts: UploadedPart[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
        [this.table]: { Keys: keys.slice(start, start + 100), ConsistentRead: true },
      };
      while (request && Object.keys(request).length > 0) {
        const response = await this.documents.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of response.Responses?.[this.table] ?? []) {
          for (const [name, value] of Object.entries(item)) {
            if (!/^p\d+$/.test(name)) continue;
            const [etag, checksumSha256] = String(value).split(' ');
            parts.push({ partNumber: Number(name.slice(1)), etag: etag!, checksumSha256: checksumSha256! });
          }
        }
        request = response.UnprocessedKeys as typeof request;
      }
    }
    return parts.filter((part) => part.partNumber <= partCount).sort((a, b) => a.partNumber - b.partNumber);
  }

  async forgetUpload(fileId: string, owner: string) {
    await this.asOwnerOrThrow(fileId, owner, 'REMOVE uploadId, objectKey, partSize, uploadedBytes, hashState, partCount', {});
  }

  async markUploaded(fileId: string, owner: string, result: UploadResult) {
    const now = new Date().toISOString();
    await this.asOwnerOrThrow(
      fileId,
      owner,
      'SET #status = :uploaded, statusSince = :now, uploadedAt = :now, #bucket = :bucket, objectKey = :key, sha256 = :sha256, etag = :etag' +
        (result.versionId ? ', versionId = :versionId' : '') +
        (result.objectChecksum ? ', objectChecksum = :objectChecksum' : '') +
        ' REMOVE leaseOwner, leaseUntil, lastError, nextAttemptAt, uploadId, hashState, partSize, uploadedBytes, partCount',
      {
        ':uploaded': 'uploaded',
        ':now': now,
        ':bucket': result.bucket,
        ':key': result.key,
        ':sha256': result.sha256,
        ':etag': result.etag,
        ...(result.versionId ? { ':versionId': result.versionId } : {}),
        ...(result.objectChecksum ? { ':objectChecksum': result.objectChecksum } : {}),
      },
      { '#status': 'status', '#bucket': 'bucket' },
    );
  }

  markFailed(fileId: string, owner: string, error: { code: string; message: string }, nextAttemptAt: Date): Promise<boolean> {
    return this.asOwner(
      fileId,
      owner,
      'SET #status = :failed, statusSince = :now, lastError = :error, nextAttemptAt = :next REMOVE leaseOwner, leaseUntil',
      { ':failed': 'failed', ':now': new Date().toISOString(), ':error': { ...error, at: new Date().toISOString() }, ':next': nextAttemptAt.toISOString() },
      { '#status': 'status' },
    );
  }

  markFinal(fileId: string, owner: string, status: 'vanished' | 'quarantined', error: { code: string; message: string }): Promise<boolean> {
    return this.asOwner(
      fileId,
      owner,
      'SET #status = :status, statusSince = :now, lastError = :error REMOVE leaseOwner, leaseUntil, nextAttemptAt',
      { ':status': status, ':now': new Date().toISOString(), ':error': { ...error, at: new Date().toISOString() } },
      { '#status': 'status' },
    );
  }

  release(fileId: string, owner: string): Promise<boolean> {
    return this.asOwner(
      fileId,
      owner,
      'SET #status = :pending REMOVE leaseOwner, leaseUntil',
      { ':pending': 'pending' },
      { '#status': 'status' },
    );
  }
}

