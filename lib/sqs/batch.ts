import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import type { Logger } from '../ports';

/**
 * Builds an SQS batch handler: every record's body is parsed with `schema`, records are processed
 * concurrently (or one after another with `sequential`, e.g. to share one connection), and only the
 * records that failed are reported (`batchItemFailures`), so one bad
 * record never replays the batch. A body that does not parse is reported too: after the queue's
 * maxReceiveCount it lands in the dead-letter queue, where an operator can look at it.
 */
export function sqsBatchHandler<S extends z.ZodType>(
  schema: S,
  logger: () => Logger,
  handle: (message: z.infer<S>, record: SQSRecord) => Promise<void>,
  options: { sequential?: boolean } = {},
) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const results = await mapRecords(
      event.Records,
      options.sequential ?? false,
      async (record) => {
        let message: z.infer<S>;
        try {
          message = schema.parse(JSON.parse(record.body));
        } catch {
          logger().error('sqs_message_invalid', { messageId: record.messageId, source: record.eventSourceARN });
          return record.messageId;
        }
        try {
          await handle(message, record);
          return undefined;
        } catch (error) {
          logger().error('sqs_message_failed', {
            messageId: record.messageId,
            receiveCount: record.attributes.ApproximateReceiveCount,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          });
          return record.messageId;
        }
      },
    );
    return { batchItemFailures: results.filter((id): id is string => id !== undefined).map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

async function mapRecords<T>(records: SQSRecord[], sequential: boolean, each: (record: SQSRecord) => Promise<T>): Promise<T[]> {
  if (!sequential) return Promise.all(records.map(each));
  const results: T[] = [];
  for (const record of records) results.push(await each(record));
  return results;
}
