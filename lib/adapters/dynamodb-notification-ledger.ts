import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { NotificationLedger } from '../ports';
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
