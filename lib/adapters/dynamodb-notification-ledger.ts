import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import type { FileStatus, NotificationLedger, StaleFile, StaleFiles } from '../ports';
import { toView } from './dynamodb-file-catalog';

/**
 * Announcement state in the files table, on the version's item: `notifyLeaseUntil` (epoch ms) while
 * a notifier publishes, `notifyAttempts`, `lastError` and `notifyParked` after failures, and
 * `status = notified` with `notifiedAt` once the broker confirmed.
 */
export class DynamoNotificationLedger implements NotificationLedger {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async claim(fileId: string, until: Date, again: boolean) {
    const now = Date.now();
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { fileId },
          UpdateExpression: 'SET notifyLeaseUntil = :until',
          ConditionExpression: `attribute_exists(fileId) AND #status IN (${again ? ':uploaded, :notified' : ':uploaded'}) AND (attribute_not_exists(notifyLeaseUntil) OR notifyLeaseUntil < :now)`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':until': until.getTime(), ':now': now, ':uploaded': 'uploaded', ...(again ? { ':notified': 'notified' } : {}) },
          // The claimed item is the announcement's content: no read after the write.
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toView(Attributes!);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!error.Item) return 'missing' as const;
      const item = unmarshall(error.Item);
      if (item.status === 'notified' && !again) return 'notified' as const;
      if (item.status === 'uploaded' || item.status === 'notified') return 'busy' as const;
      return 'not-uploaded' as const;
    }
  }

  async markNotified(fileId: string, at: Date): Promise<boolean> {
    const { Attributes } = await this.documents.send(
      new UpdateCommand({
        TableName: this.options.table,
        Key: { fileId },
        UpdateExpression:
          'SET #status = :notified, statusSince = if_not_exists(notifiedAt, :at), notifiedAt = if_not_exists(notifiedAt, :at), lastNotifiedAt = :at' +
          ' REMOVE notifyLeaseUntil, notifyParked, notifyAttempts, lastError',
        ConditionExpression: '#status IN (:uploaded, :notified)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':notified': 'notified', ':uploaded': 'uploaded', ':at': at.toISOString() },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return Attributes?.status === 'uploaded';
  }

  async recordFailure(fileId: string, error: { code: string; message: string }) {
    const { Attributes } = await this.documents.send(
      new UpdateCommand({
        TableName: this.options.table,
        Key: { fileId },
        UpdateExpression: 'SET lastError = :error, notifyAttempts = if_not_exists(notifyAttempts, :zero) + :one REMOVE notifyLeaseUntil',
        ExpressionAttributeValues: { ':error': { ...error, at: new Date().toISOString() }, ':zero': 0, ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(Attributes?.notifyAttempts ?? 1);
  }

  async park(fileId: string) {
    await this.documents.send(
      new UpdateCommand({ TableName: this.options.table, Key: { fileId }, UpdateExpression: 'SET notifyParked = :true', ExpressionAttributeValues: { ':true': true } }),
    );
  }
}

const StaleItem = z.object({
  fileId: z.string(),
  serverId: z.string(),
  remotePath: z.string(),
  size: z.number(),
  mtime: z.number(),
  statusSince: z.string(),
  status: z.string(),
  uploadId: z.string().optional(),
  objectKey: z.string().optional(),
  notifyParked: z.boolean().optional(),
});

/** Versions stuck in a status, through the byStatus index (keys only) and a batch read of the items. */
export class DynamoStaleFiles implements StaleFiles {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async list(status: FileStatus, since: Date, limit: number): Promise<StaleFile[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.options.table,
        IndexName: 'byStatus',
        KeyConditionExpression: '#status = :status AND statusSince < :since',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':since': since.toISOString() },
        Limit: limit,
      }),
    );
    const found: StaleFile[] = [];
    for (let start = 0; start < Items.length; start += 100) {
      let keys = Items.slice(start, start + 100).map((item) => ({ fileId: String(item.fileId) }));
      while (keys.length > 0) {
        const { Responses = {}, UnprocessedKeys = {} } = await this.documents.send(new BatchGetCommand({ RequestItems: { [this.options.table]: { Keys: keys } } }));
        for (const item of Responses[this.options.table] ?? []) {
          const parsed = StaleItem.safeParse(item);
          // The index is eventually consistent: skip items that moved on meanwhile.
          if (parsed.success && parsed.data.status === status) {
            const { status: _status, ...file } = parsed.data;
            found.push(file);
          }
        }
        keys = (UnprocessedKeys[this.options.table]?.Keys ?? []) as { fileId: string }[];
      }
    }
    return found;
  }

  async uploadsInUse(): Promise<Set<string>> {
    const inUse = new Set<string>();
    for (const status of ['pending', 'transferring', 'failed'] satisfies FileStatus[]) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.documents.send(
          new QueryCommand({
            TableName: this.options.table,
            IndexName: 'byStatus',
            KeyConditionExpression: '#status = :status',
            FilterExpression: 'attribute_exists(uploadId)',
            ProjectionExpression: 'uploadId',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': status },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) if (typeof item.uploadId === 'string') inUse.add(item.uploadId);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return inUse;
  }
}
