import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { FileStatus, StaleFile, StaleFiles } from '../ports';
import { queryPages } from './dynamodb-pages';

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
      const pages = queryPages(this.documents, {
        TableName: this.options.table,
        IndexName: 'byStatus',
        KeyConditionExpression: '#status = :status',
        FilterExpression: 'attribute_exists(uploadId)',
        ProjectionExpression: 'uploadId',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status },
      });
      for await (const items of pages) for (const item of items) if (typeof item.uploadId === 'string') inUse.add(item.uploadId);
    }
    return inUse;
  }
}
