import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { FILE_ID_PATTERN, FILE_STATUSES, TransferJob } from '../domain/file-version';
import type { FileCatalog, FileView, Page } from '../ports';
import { decodeCursor, encodeCursor } from './dynamodb-cursor';

/** The fields every file-version item has from the moment the poller creates it (lib/domain/file-version.ts). */
export const DetectedFileItem = TransferJob.extend({ serverName: z.string(), relativePath: z.string() });

/** The detection fields of an item, as every view of a version starts (mtime still epoch seconds). */
export function detectedFields(item: z.infer<typeof DetectedFileItem>) {
  const { fileId, serverId, serverName, remotePath, relativePath, size, mtime } = item;
  return { fileId, serverId, serverName, remotePath, relativePath, size, mtime };
}

const FileItem = DetectedFileItem.extend({
  status: z.enum(FILE_STATUSES),
  statusSince: z.string(),
  discoveredAt: z.string(),
  attempts: z.number().default(0),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string().optional() }).nullable().optional(),
  nextAttemptAt: z.string().optional(),
  bucket: z.string().optional(),
  objectKey: z.string().optional(),
  sha256: z.string().optional(),
  etag: z.string().optional(),
  versionId: z.string().optional(),
  objectChecksum: z.string().optional(),
  uploadedAt: z.string().optional(),
  uploadedBytes: z.number().optional(),
  notifiedAt: z.string().optional(),
  notifyAttempts: z.number().optional(),
  notifyParked: z.boolean().optional(),
});

/** A files-table item as the API's file view (also what a conditional write's ALL_NEW returns). */
export function toView(item: Record<string, unknown>): FileView {
  const file = FileItem.parse(item);
  return {
    ...detectedFields(file),
    mtime: new Date(file.mtime * 1000).toISOString(),
    status: file.status,
    statusSince: file.statusSince,
    discoveredAt: file.discoveredAt,
    attempts: file.attempts,
    lastError: file.lastError ?? null,
    nextAttemptAt: file.nextAttemptAt ?? null,
    bucket: file.bucket ?? null,
    key: file.objectKey ?? null,
    sha256: file.sha256 ?? null,
    etag: file.etag ?? null,
    versionId: file.versionId ?? null,
    objectChecksum: file.objectChecksum ?? null,
    uploadedAt: file.uploadedAt ?? null,
    uploadedBytes: file.status === 'transferring' || file.status === 'failed' ? (file.uploadedBytes ?? 0) : null,
    notifiedAt: file.notifiedAt ?? null,
    notifyAttempts: file.notifyAttempts ?? 0,
    notifyParked: file.notifyParked ?? false,
  };
}

const Cursor = z.strictObject({ fileId: z.string(), serverId: z.string(), discoveredAt: z.string() });

/** Read side of the files table: one version, or a server's history newest first (byServer index). */
export class DynamoFileCatalog implements FileCatalog {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async get(fileId: string): Promise<FileView | undefined> {
    if (!FILE_ID_PATTERN.test(fileId)) return undefined;
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.table, Key: { fileId } }));
    return Item ? toView(Item) : undefined;
  }

  async listByServer(serverId: string, limit: number, nextToken?: string, status?: string): Promise<Page<FileView>> {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(
      new QueryCommand({
        TableName: this.options.table,
        IndexName: 'byServer',
        KeyConditionExpression: 'serverId = :serverId',
        ...(status ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } } : {}),
        ExpressionAttributeValues: { ':serverId': serverId, ...(status ? { ':status': status } : {}) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: nextToken === undefined ? undefined : decodeCursor(nextToken, Cursor),
      }),
    );
    return {
      items: Items.map(toView),
      ...(LastEvaluatedKey ? { nextToken: encodeCursor(LastEvaluatedKey) } : {}),
    };
  }
}
