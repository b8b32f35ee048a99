import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DetectedFile, FileLedger, LedgerCreateResult } from '../ports';

/**
 * The files table: one item per file version, keyed by its fileId. Creating it with
 * `attribute_not_exists` is the dedup lock: exactly one poller, ever, creates a given version.
 */
export class DynamoFileLedger implements FileLedger {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async createIfAbsent(file: DetectedFile): Promise<LedgerCreateResult> {
    return this.create({ ...file, status: 'pending', statusSince: file.discoveredAt, attempts: 0 });
  }

  /** The version is recorded as the poll saw it, already final: the transfer's claim finds it 'gone'. */
  async createQuarantined(file: DetectedFile, error: { code: string; message: string }): Promise<LedgerCreateResult> {
    return this.create({ ...file, status: 'quarantined', statusSince: file.discoveredAt, attempts: 0, lastError: { ...error, at: file.discoveredAt } });
  }

  private async create(
    item: DetectedFile & { status: string; statusSince: string; attempts: number; lastError?: { code: string; message: string; at: string } },
  ): Promise<LedgerCreateResult> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.options.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(fileId)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = error.Item ? unmarshall(error.Item) : {};
      return { created: false, status: String(existing.status ?? 'unknown') };
    }
  }
}
