import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FileStatus, FileView, RedriveLedger } from '../ports';
import { toView } from './dynamodb-file-catalog';
import { queryPages } from './dynamodb-pages';

/** Index entries one query reads (before its filter): bounds the work between two budget checks. */
const PAGE_ITEMS = 1000;

/** Where a multipart upload's resume point lives on the version's item (dynamodb-transfer-ledger.ts). */
const UPLOAD_CHECKPOINT = ['uploadId', 'objectKey', 'partSize', 'uploadedBytes', 'hashState', 'partCount'];

/**
 * Re-drive writes and the server-wide reads they need, on the files table: the byServer index holds
 * every version of a server (all attributes), so one pass with a filter finds them.
 */
export class DynamoRedriveLedger implements RedriveLedger {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async requeue(seen: Pick<FileView, 'fileId' | 'status' | 'statusSince'>, at: Date): Promise<FileView | 'stale'> {
    // A quarantined or vanished version's upload was aborted by finalize: resuming it would only
    // find it lost. A failed one's is live and is resumed.
    const forget = seen.status === 'failed' ? [] : UPLOAD_CHECKPOINT;
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { fileId: seen.fileId },
          UpdateExpression: `SET #status = :pending, statusSince = :now, attempts = :zero REMOVE ${['nextAttemptAt', 'leaseOwner', 'leaseUntil', ...forget].join(', ')}`,
          ConditionExpression: '#status = :seen AND statusSince = :seenSince',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending', ':now': at.toISOString(), ':zero': 0, ':seen': seen.status, ':seenSince': seen.statusSince },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toView(Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'stale';
      throw error;
    }
  }

  async *versionsOf(serverId: string, filter: { statuses: FileStatus[] } | { notifiedSince: Date }): AsyncIterable<FileView[]> {
    const byStatus = 'statuses' in filter;
    const values: Record<string, unknown> = { ':serverId': serverId };
    let condition: string;
    if (byStatus) {
      filter.statuses.forEach((status, index) => (values[`:s${index}`] = status));
      condition = `#status IN (${filter.statuses.map((_, index) => `:s${index}`).join(', ')})`;
    } else {
      values[':notified'] = 'notified';
      values[':since'] = filter.notifiedSince.toISOString();
      condition = '#status = :notified AND notifiedAt >= :since';
    }
    const pages = queryPages(this.documents, {
      TableName: this.options.table,
      IndexName: 'byServer',
      KeyConditionExpression: 'serverId = :serverId',
      FilterExpression: condition,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
      Limit: PAGE_ITEMS,
    });
    for await (const items of pages) if (items.length) yield items.map(toView);
  }
}
